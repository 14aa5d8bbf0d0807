//! Cost of rendering a typical SQL template, as the runner does it.
//!   cargo run --release --example render_bench
use std::sync::Arc;
use std::time::Instant;

use task_runner::context::{Context, DateTime, Overrides, Payload};
use task_runner::environ::Environ;
use task_runner::store::Store;
use task_runner::template::Renderer;

const SQL: &str = "\
INSERT INTO sales_daily (day, region, revenue)
SELECT '{{ ds }}'::date, region, sum(amount)
FROM orders
WHERE created_at >= '{{ data_interval_start | ts }}'
  AND created_at <  '{{ data_interval_end | ts }}'
  AND region IN ({% for r in params.regions %}'{{ r }}'{{ ',' if not loop.last }}{% endfor %})
  AND batch = {{ dag_run.conf.get('batch', 0) }}
GROUP BY region;
-- {{ (logical_date - macros.timedelta(days=1)).strftime('%Y-%m') }} {{ ti.xcom_pull(task_ids='extract') | tojson }}
";

fn main() {
    let payload: Payload = serde_json::from_value(serde_json::json!({
        "dag_id": "sales", "task_id": "load", "run_id": "scheduled__2024-06-01T00:00:00+00:00",
        "logical_date": "2024-06-01T00:00:00+00:00", "data_interval_start": "2024-06-01T00:00:00+00:00",
        "data_interval_end": "2024-06-02T00:00:00+00:00", "params": {"regions": ["emea", "apac", "amer"]},
        "dag_run_conf": {"batch": 7}, "xcom": [{"task_id": "extract", "value": {"rows": 42}}]
    }))
    .expect("payload");
    let today = DateTime::parse("2024-06-01").expect("date");
    let ctx = Context::build(
        payload,
        Overrides {
            today: Some(today),
            origin: "bench",
            ..Overrides::default()
        },
    )
    .expect("context");
    let store = Arc::new(
        Store::new(
            &Environ::default(),
            Default::default(),
            Default::default(),
            vec![],
        )
        .expect("store"),
    );

    let n = 20_000;
    let t = Instant::now();
    let renderer = Renderer::new(
        &ctx,
        store.clone(),
        vec![],
        false,
        "SQLExecuteQueryOperator",
    );
    let setup = t.elapsed();
    let t = Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        bytes += renderer
            .render_source("sql", SQL)
            .expect("render")
            .as_str()
            .map_or(0, str::len);
    }
    let per = t.elapsed() / n;
    let t = Instant::now();
    for _ in 0..1000 {
        let r = Renderer::new(
            &ctx,
            store.clone(),
            vec![],
            false,
            "SQLExecuteQueryOperator",
        );
        bytes += r
            .render_source("sql", SQL)
            .expect("render")
            .as_str()
            .map_or(0, str::len);
    }
    let cold = t.elapsed() / 1000;
    // How long a runaway loop renders before the default step budget ends it.
    let t = Instant::now();
    let runaway = renderer.render_source(
        "sql",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    );
    assert!(runaway.is_err(), "the step budget ends an endless loop");
    let exhausted = t.elapsed();
    println!(
        "typical SQL template ({} bytes out): {:.1} µs per render; {:.1} µs including environment setup (first setup {:.1} µs)",
        bytes / (n as usize + 1000),
        per.as_secs_f64() * 1e6,
        cold.as_secs_f64() * 1e6,
        setup.as_secs_f64() * 1e6
    );
    println!(
        "an endless loop ends on the default step budget ({} steps) after {:.2} s",
        task_runner::template::budget::DEFAULT_MAX_STEPS,
        exhausted.as_secs_f64()
    );
}
