//! Kubernetes resource quantities as the simulated kubelet and scheduler read them.
//!
//! Written apart from the product's own quantity code on purpose: the simulators are the oracle
//! suture is tested against, and an oracle that shares the arithmetic under test would agree
//! with its bugs. The value is kept exactly, as `mantissa * 10^exp10 * 2^exp2`.

/// A parsed quantity (`128Mi`, `0.5`, `250m`, `1e3`, `2G`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity {
    mantissa: i128,
    exp10: i32,
    exp2: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid quantity {input:?}: {reason}")]
pub struct QuantityError {
    pub input: String,
    pub reason: &'static str,
}

impl Quantity {
    /// Parse the grammar of `k8s.io/apimachinery/pkg/api/resource`: a signed decimal number,
    /// then a binary suffix (`Ki`..`Ei`), a decimal suffix (`n`, `u`, `m`, `k`, `M`..`E`) or a
    /// decimal exponent (`e3`, `E-2`).
    pub fn parse(input: &str) -> Result<Quantity, QuantityError> {
        let fail = |reason| QuantityError {
            input: input.to_owned(),
            reason,
        };
        let (negative, rest) = match input.as_bytes().first() {
            Some(b'-') => (true, &input[1..]),
            Some(b'+') => (false, &input[1..]),
            _ => (false, input),
        };
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_len);
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        if int.is_empty() && frac.is_empty() {
            return Err(fail("no digits"));
        }
        if frac.contains('.') {
            return Err(fail("two decimal points"));
        }
        let mut mantissa: i128 = 0;
        for d in int.bytes().chain(frac.bytes()) {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(d - b'0')))
                .ok_or_else(|| fail("too many digits"))?;
        }
        if negative {
            mantissa = -mantissa;
        }
        let frac_digits = i32::try_from(frac.len()).map_err(|_| fail("too many digits"))?;
        let (exp10, exp2) = match suffix {
            "" => (0, 0),
            "Ki" => (0, 10),
            "Mi" => (0, 20),
            "Gi" => (0, 30),
            "Ti" => (0, 40),
            "Pi" => (0, 50),
            "Ei" => (0, 60),
            "n" => (-9, 0),
            "u" => (-6, 0),
            "m" => (-3, 0),
            "k" => (3, 0),
            "M" => (6, 0),
            "G" => (9, 0),
            "T" => (12, 0),
            "P" => (15, 0),
            "E" => (18, 0),
            s if s.starts_with(['e', 'E']) => {
                let exp: i32 = s[1..].parse().map_err(|_| fail("bad exponent"))?;
                if !(-30..=30).contains(&exp) {
                    return Err(fail("exponent out of range"));
                }
                (exp, 0)
            }
            _ => return Err(fail("unknown suffix")),
        };
        Ok(Quantity {
            mantissa,
            exp10: exp10 - frac_digits,
            exp2,
        })
    }

    /// The value times `10^scale`, rounded up to a whole number (as Kubernetes rounds memory up
    /// to whole bytes and cpu up to whole millicores). `None` when it does not fit.
    fn scaled_ceil(self, scale: i32) -> Option<i128> {
        let mut num = self.mantissa.checked_mul(1i128.checked_shl(self.exp2)?)?;
        let exp = self.exp10 + scale;
        if exp >= 0 {
            return num.checked_mul(10i128.checked_pow(exp.unsigned_abs())?);
        }
        let den = 10i128.checked_pow(exp.unsigned_abs())?;
        let q = num.div_euclid(den);
        num = num.rem_euclid(den);
        Some(if num == 0 { q } else { q + 1 })
    }

    /// Whole bytes (memory), rounded up.
    pub fn bytes(self) -> Option<i128> {
        self.scaled_ceil(0)
    }

    /// Millicores (cpu), rounded up.
    pub fn millis(self) -> Option<i128> {
        self.scaled_ceil(3)
    }
}

/// Bytes of a memory quantity written as text.
pub fn bytes(text: &str) -> Option<i128> {
    Quantity::parse(text).ok()?.bytes()
}

/// Millicores of a cpu quantity written as text.
pub fn millicores(text: &str) -> Option<i128> {
    Quantity::parse(text).ok()?.millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_and_decimal_suffixes() {
        assert_eq!(bytes("128Mi"), Some(128 * 1024 * 1024));
        assert_eq!(bytes("1Gi"), Some(1 << 30));
        assert_eq!(bytes("1Ki"), Some(1024));
        assert_eq!(bytes("2G"), Some(2_000_000_000));
        assert_eq!(bytes("1k"), Some(1000));
        assert_eq!(bytes("512"), Some(512));
        assert_eq!(bytes("1Ei"), Some(1 << 60));
    }

    #[test]
    fn fractions_and_exponents() {
        assert_eq!(bytes("1.5Gi"), Some(3 << 29));
        assert_eq!(bytes("1e3"), Some(1000));
        assert_eq!(bytes("1E6"), Some(1_000_000));
        assert_eq!(bytes("0.5Ki"), Some(512));
        assert_eq!(bytes(".5k"), Some(500));
        assert_eq!(bytes("+7"), Some(7));
    }

    #[test]
    fn rounds_up_to_whole_units() {
        // 0.1 byte is a whole byte to the kubelet; 1.0005 cores is 1001m.
        assert_eq!(bytes("100m"), Some(1));
        assert_eq!(bytes("1500m"), Some(2));
        assert_eq!(millicores("1.0005"), Some(1001));
        assert_eq!(bytes("-1500m"), Some(-1));
    }

    #[test]
    fn cpu_in_millicores() {
        assert_eq!(millicores("500m"), Some(500));
        assert_eq!(millicores("2"), Some(2000));
        assert_eq!(millicores("0.5"), Some(500));
        assert_eq!(millicores("250u"), Some(1));
        assert_eq!(millicores("1k"), Some(1_000_000));
    }

    #[test]
    fn refuses_what_kubernetes_refuses() {
        for bad in [
            "", "Mi", "1.2.3", "1Mb", "1 Mi", "abc", "1e", "1ee3", "1.5.Gi", "--1",
        ] {
            assert_eq!(bytes(bad), None, "{bad:?} must not parse");
            assert!(Quantity::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn too_large_is_none_not_a_wrap() {
        assert_eq!(bytes("1e30"), Some(10i128.pow(30)));
        assert_eq!(bytes("99999999999999999999999999999999999999Ei"), None);
        assert_eq!(bytes("1e31"), None);
    }
}
