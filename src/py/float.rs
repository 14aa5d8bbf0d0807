//! Python's `repr(float)` (`float.__repr__`, CPython's `dtoa` in shortest mode).

/// Python's `repr(float)`: `1.0`, `1e+16`, `1.5e-05`, `inf`, `nan`.
pub(crate) fn repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    finite_repr(f)
}

/// Python `float.__repr__`: shortest round-trip digits, scientific notation when the decimal
/// exponent is < -4 or >= 16, `.0` on integral values, at least two exponent digits.
fn finite_repr(f: f64) -> String {
    let (digits, exp) = if f == 0.0 {
        ("0".to_owned(), 0)
    } else {
        shortest_digits(f.abs())
    };
    let ndigits = digits.len() as i32;
    let decpt = exp + 1;
    let body = if !(-3..=16).contains(&decpt) {
        let (first, tail) = digits.split_at(1);
        let sign = if exp < 0 { '-' } else { '+' };
        let dot = if tail.is_empty() { "" } else { "." };
        format!("{first}{dot}{tail}e{sign}{:02}", exp.abs())
    } else if decpt <= 0 {
        format!("0.{}{digits}", "0".repeat(decpt.unsigned_abs() as usize))
    } else if decpt >= ndigits {
        format!("{digits}{}.0", "0".repeat((decpt - ndigits) as usize))
    } else {
        let (int, frac) = digits.split_at(decpt as usize);
        format!("{int}.{frac}")
    };
    if f.is_sign_negative() {
        format!("-{body}")
    } else {
        body
    }
}

/// Shortest round-trip significant digits of a positive finite `f` and its decimal exponent.
/// Rust's `{:e}` gives them, except that when `f` lies exactly halfway between two shortest
/// candidates Rust rounds up while CPython's dtoa rounds to the even digit.
fn shortest_digits(f: f64) -> (String, i32) {
    let (digits, exp) = sci_parts(&format!("{f:e}"));
    // 800 digits cover the exact binary expansion of any double.
    let (exact, exact_exp) = sci_parts(&format!("{f:.800e}"));
    let exact = exact.trim_end_matches('0');
    if exact_exp == exp && exact.len() == digits.len() + 1 && exact.ends_with('5') {
        let down = &exact[..digits.len()];
        for candidate in [Some(down.to_owned()), decimal_increment(down)]
            .into_iter()
            .flatten()
        {
            let even = candidate
                .bytes()
                .last()
                .is_some_and(|d| matches!(d, b'0' | b'2' | b'4' | b'6' | b'8'));
            let (first, tail) = candidate.split_at(1);
            if even && format!("{first}.{tail}0e{exp}").parse::<f64>() == Ok(f) {
                return (candidate, exp);
            }
        }
    }
    (digits, exp)
}

/// `"1.2345e-7"` -> (`"12345"`, -7).
fn sci_parts(sci: &str) -> (String, i32) {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let digits = mantissa.chars().filter(char::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0))
}

/// Adds one to the last digit; `None` when that would carry into a new leading digit.
fn decimal_increment(digits: &str) -> Option<String> {
    let mut bytes = digits.as_bytes().to_vec();
    for b in bytes.iter_mut().rev() {
        if *b == b'9' {
            *b = b'0';
        } else {
            *b += 1;
            return String::from_utf8(bytes).ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_float_repr() {
        assert_eq!(finite_repr(0.0), "0.0");
        assert_eq!(finite_repr(-0.0), "-0.0");
        assert_eq!(finite_repr(1.0), "1.0");
        assert_eq!(finite_repr(1e15), "1000000000000000.0");
        assert_eq!(finite_repr(1e16), "1e+16");
        assert_eq!(finite_repr(0.1), "0.1");
        assert_eq!(finite_repr(1.5e-5), "1.5e-05");
        assert_eq!(finite_repr(0.00015), "0.00015");
        assert_eq!(
            finite_repr(1.7976931348623157e308),
            "1.7976931348623157e+308"
        );
        assert_eq!(finite_repr(5e-324), "5e-324");
        // Exactly halfway between two 16-digit candidates: Python picks the even one.
        assert_eq!(finite_repr(694789595660970.2), "694789595660970.2");
        assert_eq!(finite_repr(-88978591943781.62), "-88978591943781.62");
    }
}
