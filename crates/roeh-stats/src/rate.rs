//! Rate ratios with a confidence interval (docs/design/0015-situational-picture.md).
//!
//! Counts of incidents are modelled as Poisson with a dispersion factor φ ("quasi-Poisson"):
//! the variance of a count is φ times its mean. φ is estimated from the weekly counts of the
//! period before (Pearson's χ² over its degrees of freedom) and never taken below 1, so
//! clustered incidents (a brawl that is reported five times, a hot week) widen the interval
//! instead of making noise look significant. The ratio of two rates `(a / ta) / (b / tb)` has
//! the log-scale Wald interval `exp(ln RR ± z · sqrt(φ · (1/a + 1/b)))`; a zero count is
//! replaced by ½ in the interval (and only there), so a period without incidents still gets a
//! finite, wide interval.

use serde::Serialize;

/// z of a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A rate ratio and its 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RateRatio {
    /// The point estimate; `None` when the reference rate is zero.
    pub ratio: Option<f64>,
    /// Lower end of the 95 % interval.
    pub low: f64,
    /// Upper end of the 95 % interval.
    pub high: f64,
    /// The dispersion factor used (1 = plain Poisson).
    pub dispersion: f64,
}

impl RateRatio {
    /// Whether the interval lies wholly on one side of 1: a change that is more than noise.
    pub fn significant(&self) -> bool {
        self.high < 1.0 || self.low > 1.0
    }
}

/// The rate of `a` events over exposure `ta` against `b` over `tb` (same unit), with
/// dispersion `phi` (≥ 1).
pub fn rate_ratio(a: u64, ta: f64, b: u64, tb: f64, phi: f64) -> RateRatio {
    let phi = phi.max(1.0);
    let ratio = (b > 0 && ta > 0.0 && tb > 0.0).then(|| (a as f64 / ta) / (b as f64 / tb));
    let (ac, bc) = (half_if_zero(a), half_if_zero(b));
    let centre = (ac / ta.max(f64::MIN_POSITIVE)) / (bc / tb.max(f64::MIN_POSITIVE));
    let se = (phi * (1.0 / ac + 1.0 / bc)).sqrt();
    RateRatio {
        ratio,
        low: (centre.ln() - Z95 * se).exp(),
        high: (centre.ln() + Z95 * se).exp(),
        dispersion: phi,
    }
}

/// The ratio of two rate ratios (target during / target before) ÷ (comparison during /
/// comparison before): the change at the target beyond the change the comparison hotspots saw
/// over the same hours. Each count is `(events, exposure)`.
pub fn ratio_of_ratios(
    target: ((u64, f64), (u64, f64)),
    comparison: ((u64, f64), (u64, f64)),
    phi: f64,
) -> RateRatio {
    let phi = phi.max(1.0);
    let rr = |(a, ta): (u64, f64), (b, tb): (u64, f64)| {
        (b > 0 && ta > 0.0 && tb > 0.0).then(|| (a as f64 / ta) / (b as f64 / tb))
    };
    let ratio = match (rr(target.0, target.1), rr(comparison.0, comparison.1)) {
        (Some(t), Some(c)) if c > 0.0 => Some(t / c),
        _ => None,
    };
    let c = |(n, t): (u64, f64)| (half_if_zero(n), t.max(f64::MIN_POSITIVE));
    let (t1, t0, c1, c0) = (c(target.0), c(target.1), c(comparison.0), c(comparison.1));
    let centre = ((t1.0 / t1.1) / (t0.0 / t0.1)) / ((c1.0 / c1.1) / (c0.0 / c0.1));
    let se = (phi * (1.0 / t1.0 + 1.0 / t0.0 + 1.0 / c1.0 + 1.0 / c0.0)).sqrt();
    RateRatio {
        ratio,
        low: (centre.ln() - Z95 * se).exp(),
        high: (centre.ln() + Z95 * se).exp(),
        dispersion: phi,
    }
}

fn half_if_zero(n: u64) -> f64 {
    if n == 0 { 0.5 } else { n as f64 }
}

/// The dispersion factor of counts over equal stretches of exposure: Pearson's χ² over its
/// degrees of freedom, at least 1; 1 with fewer than two stretches or no events.
pub fn dispersion(counts: &[u64]) -> f64 {
    if counts.len() < 2 {
        return 1.0;
    }
    let n = counts.len() as f64;
    let mean = counts.iter().sum::<u64>() as f64 / n;
    if mean <= 0.0 {
        return 1.0;
    }
    let chi2: f64 = counts
        .iter()
        .map(|&c| (c as f64 - mean).powi(2) / mean)
        .sum();
    (chi2 / (n - 1.0)).max(1.0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_drop_of_forty_percent_on_hundreds_of_events_is_more_than_noise() {
        let r = rate_ratio(300, 100.0, 500, 100.0, 1.0);
        assert!((r.ratio.unwrap() - 0.6).abs() < 1e-12);
        assert!(r.low < 0.6 && 0.6 < r.high);
        assert!(r.significant());
        // The textbook interval: exp(ln 0.6 ± 1.96 · sqrt(1/300 + 1/500)).
        let se = (1.0f64 / 300.0 + 1.0 / 500.0).sqrt();
        assert!((r.low - (0.6f64.ln() - Z95 * se).exp()).abs() < 1e-12);
    }

    #[test]
    fn a_few_events_are_noise_and_dispersion_widens_the_interval() {
        let r = rate_ratio(3, 10.0, 5, 10.0, 1.0);
        assert!(!r.significant());
        let wide = rate_ratio(300, 100.0, 500, 100.0, 16.0);
        let narrow = rate_ratio(300, 100.0, 500, 100.0, 1.0);
        assert!(wide.high - wide.low > 3.0 * (narrow.high - narrow.low));
        // Zero before: no point estimate, still a finite interval.
        let z = rate_ratio(4, 10.0, 0, 10.0, 1.0);
        assert_eq!(z.ratio, None);
        assert!(z.low.is_finite() && z.high.is_finite() && z.low > 0.0);
    }

    #[test]
    fn dispersion_is_one_for_poisson_like_counts_and_grows_with_clustering() {
        assert_eq!(dispersion(&[10, 10, 10, 10]), 1.0);
        assert!(dispersion(&[0, 40, 0, 40]) > 10.0);
        assert_eq!(dispersion(&[7]), 1.0);
    }

    #[test]
    fn a_comparison_that_fell_as_much_cancels_the_change() {
        let r = ratio_of_ratios(((60, 1.0), (100, 1.0)), ((120, 1.0), (200, 1.0)), 1.0);
        assert!((r.ratio.unwrap() - 1.0).abs() < 1e-12);
        assert!(!r.significant());
    }
}
