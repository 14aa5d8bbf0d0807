# frozen_string_literal: true
# Weekly report in Ruby. An Airflow template: task-runner renders the
# Jinja expressions below before Ruby runs, so they are literals here.
day = '{{ ds }}'
yesterday = '{{ macros.ds_add(ds, -1) }}'
region = '{{ params.region }}'

# The rows of the SQL task arrive through the context, as in Airflow.
rows = ti.xcom_pull('sql_rows')
raise "no rows from sql_rows" if rows.nil? || rows.empty?

steps = rows.map { |r| r[2] }
puts "report for #{region} on #{day}: #{rows.size} days, #{steps.sum} steps"
{
  'day' => day,
  'yesterday' => yesterday,
  'region' => region,
  'title' => ARGV[0],
  'days' => rows.size,
  'total_steps' => steps.sum,
  'max_steps' => steps.max,
  'goal_days' => rows.count { |r| r[4] },
  'yesterday_steps' => rows.find { |r| r[0] == yesterday }&.at(2),
  'month' => context['logical_date'].strftime('%Y-%m'),
}
