//! chart.svg, drawn by hand: a few rects and labels do not need a plotting
//! crate.

use crate::measure::Outcome;
use crate::peers::Target;

/// A horizontal bar chart of requests/s, log scale, as SVG; each peer's bar
/// sits under Portcullis's bar for the same scenario.
pub fn chart(outcomes: &[Outcome]) -> String {
    let mut rows: Vec<&Outcome> = Vec::new();
    for ours in outcomes.iter().filter(|o| o.server == Target::Portcullis) {
        rows.push(ours);
        rows.extend(
            outcomes
                .iter()
                .filter(|o| o.server != Target::Portcullis && o.name == ours.name),
        );
    }
    let (width, row, left) = (900.0, 28.0, 270.0);
    let height = 60.0 + row * rows.len() as f64;
    let max = rows
        .iter()
        .map(|o| o.rps)
        .fold(1.0_f64, f64::max)
        .log10()
        .ceil()
        .max(1.0);
    let scale = |v: f64| {
        if v <= 1.0 {
            0.0
        } else {
            v.log10() / max * (width - left - 90.0)
        }
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"13\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">Requests per second by scenario (log scale); peers in grey and orange</text>\n"
    );
    for (i, o) in rows.iter().enumerate() {
        let y = 40.0 + row * i as f64;
        let w = scale(o.rps);
        let (label, colour) = match o.server {
            Target::Portcullis => (format!("{} (c={})", o.name, o.concurrency), "#1a56c4"),
            Target::OidcProvider => (format!("oidc-provider {}", o.name), "#8a8a8a"),
            Target::Django => (format!("Django+simplejwt {}", o.name), "#c77c1a"),
        };
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{label}</text>\n<rect x=\"{left}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{colour}\"/>\n<text x=\"{}\" y=\"{}\">{:.0}</text>\n",
            left - 8.0,
            y + 15.0,
            row - 8.0,
            left + w + 6.0,
            y + 15.0,
            o.rps
        ));
    }
    svg.push_str("</svg>\n");
    svg
}
