-- Daily activity of one region over the week ending on the logical date.
-- Airflow templates: {{ ds }} is the logical date, {{ macros.ds_add(ds, -1) }}
-- the day before; the window starts {{ macros.ds_add(ds, -6) }}.
-- Rendered for region {{ params.region }}. The region and the last day are
-- also bound parameters (named region and day), never pasted into the SQL.
-- Every column is text, integer or boolean, so a stock SQLExecuteQueryOperator
-- (psycopg2) and task-runner (sqlx) return the same JSON values.
WITH days AS (
    SELECT d,
           CAST(to_char(d, 'DDD') AS integer) AS doy,
           length(CAST(%(region)s AS text))   AS rlen
    FROM generate_series(DATE '{{ macros.ds_add(ds, -6) }}',
                         CAST(%(day)s AS date),
                         INTERVAL '1 day') AS d
)
SELECT to_char(d, 'YYYY-MM-DD')                             AS day,
       CAST(%(region)s AS text)                             AS region,
       4000 + mod(doy * 733 + rlen * 97, 7000)              AS steps,
       20 + mod(doy * 17, 70)                               AS active_minutes,
       4000 + mod(doy * 733 + rlen * 97, 7000) >= 8000      AS goal_met,
       to_char(d, 'YYYY-MM-DD') = '{{ macros.ds_add(ds, -1) }}' AS is_yesterday
FROM days
ORDER BY d;
