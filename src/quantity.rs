//! Kubernetes resource quantities (`512Mi`, `1Gi`, `500M`, `1e9`, `0.5Gi`), parsed exactly and
//! written back in the unit style a manifest already uses.

use std::fmt;

pub const KI: i128 = 1024;
pub const MI: i128 = 1024 * KI;
pub const GI: i128 = 1024 * MI;

/// A quantity in thousandths of the base unit, so `100m` and `0.5Gi` stay exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity {
    millis: i128,
}

/// The suffix family the manifest used, kept so a new value reads like the old one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitStyle {
    /// `Ki`, `Mi`, `Gi`, ...
    Binary,
    /// `k`, `M`, `G`, ...
    Decimal,
    /// plain bytes or an exponent (`1e9`)
    Plain,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{input:?} is not a Kubernetes quantity: {why}")]
pub struct QuantityError {
    pub input: String,
    pub why: &'static str,
}

const SUFFIXES: [(&str, i128, UnitStyle); 13] = [
    ("Ki", KI, UnitStyle::Binary),
    ("Mi", MI, UnitStyle::Binary),
    ("Gi", GI, UnitStyle::Binary),
    ("Ti", GI * KI, UnitStyle::Binary),
    ("Pi", GI * MI, UnitStyle::Binary),
    ("Ei", GI * GI, UnitStyle::Binary),
    ("k", 1_000, UnitStyle::Decimal),
    ("M", 1_000_000, UnitStyle::Decimal),
    ("G", 1_000_000_000, UnitStyle::Decimal),
    ("T", 1_000_000_000_000, UnitStyle::Decimal),
    ("P", 1_000_000_000_000_000, UnitStyle::Decimal),
    ("E", 1_000_000_000_000_000_000, UnitStyle::Decimal),
    ("", 1, UnitStyle::Plain),
];

impl Quantity {
    pub fn from_bytes(bytes: i128) -> Quantity {
        Quantity {
            millis: bytes * 1000,
        }
    }

    /// Parse the Kubernetes quantity grammar: `<decimal>[<binary or decimal suffix>|m|e<exp>]`.
    pub fn parse(input: &str) -> Result<(Quantity, UnitStyle), QuantityError> {
        let err = |why| QuantityError {
            input: input.to_string(),
            why,
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(err("empty"));
        }
        let num_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
            .unwrap_or(s.len());
        let (number, suffix) = s.split_at(num_end);
        let (mantissa_millis, scale) = parse_decimal(number).ok_or_else(|| err("bad number"))?;
        let (multiplier_millis, style) = if suffix == "m" {
            (1i128, UnitStyle::Decimal)
        } else if let Some(exp) = suffix.strip_prefix(['e', 'E']) {
            let exp: u32 = exp.parse().map_err(|_| err("bad exponent"))?;
            if exp > 18 {
                return Err(err("exponent too large"));
            }
            (10i128.pow(exp) * 1000, UnitStyle::Plain)
        } else {
            let (_, mult, style) = SUFFIXES
                .iter()
                .find(|(s, _, _)| *s == suffix)
                .ok_or_else(|| err("unknown unit suffix (use Ki, Mi, Gi, k, M, G, ...)"))?;
            (mult * 1000, *style)
        };
        let millis = mantissa_millis
            .checked_mul(multiplier_millis)
            .ok_or_else(|| err("too large"))?
            / 10i128.pow(scale);
        if millis < 0 {
            return Err(err("negative"));
        }
        Ok((Quantity { millis }, style))
    }

    /// Thousandths of the base unit (millicores for cpu).
    pub fn millis(self) -> i128 {
        self.millis
    }

    pub fn from_millis(millis: i128) -> Quantity {
        Quantity { millis }
    }

    /// Whole bytes, rounded up (Kubernetes rounds memory up to whole bytes).
    pub fn bytes(self) -> i128 {
        (self.millis + 999) / 1000
    }

    /// `self × num / den`, rounded up to whole bytes.
    pub fn scale(self, num: i128, den: i128) -> Quantity {
        let bytes = self.bytes() * num;
        Quantity::from_bytes((bytes + den - 1) / den)
    }

    /// Round up to a multiple of `step` bytes.
    pub fn round_up(self, step: i128) -> Quantity {
        let b = self.bytes();
        Quantity::from_bytes((b + step - 1) / step * step)
    }

    /// Write this quantity like the manifest wrote the old one: `Gi` when whole gibibytes and
    /// the old one used binary units with `Gi`, else `Mi` (values are 64Mi-aligned). Decimal
    /// and plain styles are written in `Mi` too: a 64Mi boundary has no short decimal form.
    pub fn format_like(self, old: &str) -> String {
        let b = self.bytes();
        if old.trim().ends_with("Gi") && b % GI == 0 {
            format!("{}Gi", b / GI)
        } else if b % MI == 0 {
            format!("{}Mi", b / MI)
        } else if b % KI == 0 {
            format!("{}Ki", b / KI)
        } else {
            b.to_string()
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.bytes();
        if b % GI == 0 && b > 0 {
            write!(f, "{}Gi", b / GI)
        } else if b % MI == 0 && b > 0 {
            write!(f, "{}Mi", b / MI)
        } else if b % MI != 0 && b > MI {
            write!(f, "{:.1}Mi", b as f64 / MI as f64)
        } else {
            write!(f, "{b}")
        }
    }
}

/// `"1.25"` -> `(125, 2)`: the digits as an integer and the number of decimals.
fn parse_decimal(number: &str) -> Option<(i128, u32)> {
    let number = number.strip_prefix('+').unwrap_or(number);
    if number.is_empty() || number.starts_with('-') && number.len() == 1 {
        return None;
    }
    let (int, frac) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if frac.len() > 9 || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    let digits = format!("{int}{frac}");
    let value: i128 = digits.parse().ok()?;
    Some((value, frac.len() as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> i128 {
        Quantity::parse(s).unwrap().0.bytes()
    }

    #[test]
    fn parses_every_suffix_family() {
        assert_eq!(bytes("512Mi"), 512 * MI);
        assert_eq!(bytes("1Gi"), GI);
        assert_eq!(bytes("0.5Gi"), 512 * MI);
        assert_eq!(bytes("500M"), 500_000_000);
        assert_eq!(bytes("1e9"), 1_000_000_000);
        assert_eq!(bytes("134217728"), 128 * MI);
        assert_eq!(bytes("1500m"), 2, "milli-bytes round up to whole bytes");
        assert_eq!(Quantity::parse("512M").unwrap().1, UnitStyle::Decimal);
    }

    #[test]
    fn rejects_what_kubernetes_rejects() {
        for bad in ["", "512MB", "lots", "1.2.3Gi", "Mi", "-1Gi", "5 Gi"] {
            assert!(Quantity::parse(bad).is_err(), "{bad} should not parse");
        }
        let e = Quantity::parse("512MB").unwrap_err();
        assert!(e.to_string().contains("512MB"));
    }

    #[test]
    fn vpa_example_rounds_to_640mi() {
        let l = Quantity::parse("512Mi").unwrap().0;
        let ratio = l.scale(12, 10);
        assert_eq!(ratio.round_up(64 * MI).format_like("512Mi"), "640Mi");
    }

    #[test]
    fn keeps_gi_style_when_whole() {
        assert_eq!(Quantity::from_bytes(2 * GI).format_like("1Gi"), "2Gi");
        assert_eq!(Quantity::from_bytes(1344 * MI).format_like("1Gi"), "1344Mi");
        assert_eq!(Quantity::from_bytes(2 * GI).format_like("1024Mi"), "2048Mi");
    }
}
