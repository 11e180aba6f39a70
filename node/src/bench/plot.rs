//! `--plot`: an SVG of the run, throughput (included tx/s) on top and latency (p50, p99)
//! below, one point per second, with the warmup shaded out by starting the x axis at zero
//! and marking the measured window's start.

use crate::bench::{error::BenchError, report::Report};
use plotters::prelude::*;
use std::path::Path;

/// Size of the SVG in pixels.
const SIZE_PX: (u32, u32) = (960, 640);

/// Writes the plot of `report` to `path`.
pub(crate) fn write(report: &Report, path: &Path) -> Result<(), BenchError> {
    draw(report, path).map_err(|e| BenchError::Output { path: path.to_path_buf(), reason: e.to_string() })
}

fn draw(report: &Report, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, SIZE_PX).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(SIZE_PX.1 / 2);
    let x_max = report.series.last().map_or(1, |s| s.t_s + 1) as f64;
    let tps_max = report.series.iter().map(|s| s.included).max().unwrap_or(1).max(1) as f64 * 1.1;
    let lat_max = report.series.iter().map(|s| s.p99_ms).fold(1.0, f64::max) * 1.1;
    let title = format!(
        "{} {} {}: {:.0} tx/s, p50 {:.1} ms, p99 {:.1} ms",
        report.label,
        serde_json::to_value(report.workload)?.as_str().unwrap_or("?"),
        match (report.rate_per_s, report.concurrency) {
            (Some(rate), _) => format!("open loop {rate} tx/s"),
            (_, Some(c)) => format!("closed loop {c} in flight"),
            _ => String::new(),
        },
        report.tx_per_s,
        report.latency.p50_ms,
        report.latency.p99_ms
    );

    let mut chart = ChartBuilder::on(&top)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, 0f64..tps_max)?;
    chart.configure_mesh().x_desc("seconds").y_desc("included tx/s").draw()?;
    chart
        .draw_series(LineSeries::new(report.series.iter().map(|s| (s.t_s as f64, s.included as f64)), &BLUE))?
        .label("included tx/s")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart.draw_series(std::iter::once(PathElement::new(vec![(report.warmup_s, 0.0), (report.warmup_s, tps_max)], BLACK.mix(0.4))))?;
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;

    let mut chart = ChartBuilder::on(&bottom)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, 0f64..lat_max)?;
    chart.configure_mesh().x_desc("seconds").y_desc("latency ms").draw()?;
    chart
        .draw_series(LineSeries::new(report.series.iter().map(|s| (s.t_s as f64, s.p50_ms)), &GREEN))?
        .label("p50")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN));
    chart
        .draw_series(LineSeries::new(report.series.iter().map(|s| (s.t_s as f64, s.p99_ms)), &RED))?
        .label("p99")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart.draw_series(std::iter::once(PathElement::new(vec![(report.warmup_s, 0.0), (report.warmup_s, lat_max)], BLACK.mix(0.4))))?;
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;
    root.present()?;
    Ok(())
}
