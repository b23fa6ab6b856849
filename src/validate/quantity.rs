//! Kubernetes resource quantities (`500m`, `1.5Gi`, `2e3`), parsed with the
//! API server's grammar so `requests ≤ limits` can be compared.

/// Parses a quantity to its value in base units, or says why it is not one.
pub fn parse_quantity(s: &str) -> Result<f64, String> {
    let bad =
        || format!("`{s}` is not a quantity (expected a number with an optional suffix such as 500m, 2, 1.5Gi, 1e3)");
    if s.is_empty() || s.len() > 64 {
        return Err(bad());
    }
    let (sign, rest) = match s.as_bytes()[0] {
        b'+' => (1.0, &s[1..]),
        b'-' => (-1.0, &s[1..]),
        _ => (1.0, s),
    };
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let multiplier = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exp if exp.starts_with(['e', 'E']) => {
            let digits = &exp[1..];
            let digits_only = digits.strip_prefix(['+', '-']).unwrap_or(digits);
            if digits_only.is_empty() || !digits_only.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let e: i32 = digits.parse().map_err(|_| bad())?;
            10f64.powi(e)
        }
        _ => return Err(bad()),
    };
    Ok(sign * value * multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_api_server_grammar() {
        assert_eq!(parse_quantity("500m").unwrap(), 0.5);
        assert_eq!(parse_quantity("1").unwrap(), 1.0);
        assert_eq!(parse_quantity("1Gi").unwrap(), 1073741824.0);
        assert_eq!(parse_quantity("1.5k").unwrap(), 1500.0);
        assert_eq!(parse_quantity("2e3").unwrap(), 2000.0);
        assert_eq!(parse_quantity(".5").unwrap(), 0.5);
        assert!(parse_quantity("1GB").is_err());
        assert!(parse_quantity("abc").is_err());
        assert!(parse_quantity("1.2.3").is_err());
        assert!(parse_quantity("").is_err());
        assert!(parse_quantity("1e").is_err());
    }
}
