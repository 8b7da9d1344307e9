//! A module's snapshots on a timeline, as inline SVG rendered here (no chart library): time
//! on the x axis, size on the y axis; pinned snapshots are filled gold, kept-for-upgrade ones
//! drawn as squares, external ones hollow. Each point carries its id and a tooltip.

use orchestrator_api::SnapshotInfo;

use super::page::esc;
use crate::output;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 15.0;
const BOTTOM: f64 = 40.0;

/// The SVG of `snapshots` (any order).
pub fn render(snapshots: &[SnapshotInfo]) -> String {
    if snapshots.is_empty() {
        return "<p class=\"muted\" id=\"timeline-empty\">No snapshots yet.</p>".into();
    }
    let first = snapshots.iter().map(|s| s.taken_at).min().unwrap_or(0);
    let last = snapshots.iter().map(|s| s.taken_at).max().unwrap_or(0);
    // A single snapshot (or several at one instant) sits in the middle of a one-minute span.
    let span = (last - first).max(60_000_000_000) as f64;
    let start = if last == first {
        first.saturating_sub(30_000_000_000)
    } else {
        first
    };
    let biggest = snapshots
        .iter()
        .map(|s| s.total_size)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |t: u64| LEFT + (t.saturating_sub(start)) as f64 / span * plot_w;
    let y = |size: u64| TOP + plot_h - size as f64 / biggest * plot_h;
    let mut svg = format!(
        "<svg id=\"timeline\" class=\"timeline\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-label=\"Snapshots by time and size\">\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{bottom}\"/>\
         <text class=\"tick\" x=\"{LEFT}\" y=\"{label_y}\">{from}</text>\
         <text class=\"tick\" x=\"{right}\" y=\"{label_y}\" text-anchor=\"end\">{to}</text>\
         <text class=\"tick\" x=\"{size_x}\" y=\"{size_top}\" text-anchor=\"end\">{max}</text>\
         <text class=\"tick\" x=\"{size_x}\" y=\"{bottom}\" text-anchor=\"end\">0</text>",
        bottom = TOP + plot_h,
        right = WIDTH - RIGHT,
        label_y = HEIGHT - 12.0,
        from = esc(&output::time(start)),
        to = esc(&output::time(start + span as u64)),
        size_x = LEFT - 6.0,
        size_top = TOP + 10.0,
        max = esc(&output::bytes(biggest as u64)),
    );
    let mut sorted: Vec<&SnapshotInfo> = snapshots.iter().collect();
    sorted.sort_by_key(|s| s.taken_at);
    for s in sorted {
        let (cx, cy) = (x(s.taken_at), y(s.total_size));
        let mut classes = vec!["point"];
        if s.pinned {
            classes.push("pinned");
        }
        if s.kept_for_upgrade {
            classes.push("kept");
        }
        if s.external {
            classes.push("external");
        }
        let mut tip = format!(
            "{} · {}",
            output::time(s.taken_at),
            output::bytes(s.total_size)
        );
        if let Some(label) = &s.label {
            tip.push_str(&format!(" · {label}"));
        }
        for (on, word) in [
            (s.pinned, "pinned"),
            (s.kept_for_upgrade, "kept for upgrade"),
            (s.external, "external"),
        ] {
            if on {
                tip.push_str(&format!(" · {word}"));
            }
        }
        let shape = if s.kept_for_upgrade {
            format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\"/>",
                cx - 6.0,
                cy - 6.0
            )
        } else {
            format!("<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"6\"/>")
        };
        svg.push_str(&format!(
            "<g class=\"{}\" data-snapshot-id=\"{}\"><title>{}</title>{shape}</g>",
            classes.join(" "),
            hex::encode(&s.id),
            esc(&tip)
        ));
    }
    svg.push_str("</svg>");
    svg.push_str(
        "<p class=\"legend\"><span class=\"key point\">●</span> snapshot \
         <span class=\"key pinned\">●</span> pinned \
         <span class=\"key kept\">■</span> kept for upgrade \
         <span class=\"key external\">○</span> external (taken outside the orchestrator)</p>",
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: u8, at: u64, size: u64, pinned: bool, kept: bool, external: bool) -> SnapshotInfo {
        SnapshotInfo {
            id: serde_bytes::ByteBuf::from(vec![id]),
            module: "app".into(),
            taken_at: at,
            total_size: size,
            label: Some("<b>".into()),
            trigger: None,
            external,
            pinned,
            kept_for_upgrade: kept,
        }
    }

    #[test]
    fn every_snapshot_is_a_point_marked_by_what_protects_it() {
        let svg = render(&[
            snap(1, 1_000_000_000_000, 10, true, false, false),
            snap(2, 2_000_000_000_000, 20, false, true, false),
            snap(3, 3_000_000_000_000, 5, false, false, true),
        ]);
        assert!(svg.contains("class=\"point pinned\" data-snapshot-id=\"01\""));
        assert!(svg.contains("class=\"point kept\" data-snapshot-id=\"02\""));
        assert!(svg.contains("class=\"point external\" data-snapshot-id=\"03\""));
        assert!(svg.contains("<rect"), "kept-for-upgrade is a square");
        assert!(svg.contains("&lt;b&gt;"), "labels are escaped");
        assert!(!svg.contains("<b>"));
    }

    #[test]
    fn no_snapshots_is_said_in_words_and_one_snapshot_is_drawn() {
        assert!(render(&[]).contains("No snapshots"));
        assert!(render(&[snap(1, 5, 0, false, false, false)]).contains("<circle"));
    }
}
