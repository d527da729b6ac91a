//! The unified social credit code (统一社会信用代码, GB 32100-2015) that identifies an
//! agency: 18 characters of a 31-character alphabet, the last a check character.
//!
//! The parser reads it from a report's text and the names use it as an agency id; both
//! ask this module whether a code is well formed.

/// The code's alphabet (digits and capitals without I, O, S, V, Z), in value order.
const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights of the first 17 characters (3^i mod 31).
const WEIGHTS: [usize; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Whether `code` is 18 characters of the alphabet whose last one is the check
/// character of the first 17.
pub fn is_valid(code: &str) -> bool {
    let vals: Option<Vec<usize>> = code.chars().map(|c| ALPHABET.find(c)).collect();
    let Some(vals) = vals else { return false };
    if vals.len() != 18 {
        return false;
    }
    let sum: usize = vals[..17].iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    (31 - sum % 31) % 31 == vals[17]
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn the_check_character_decides() {
        assert!(is_valid("11100000000013127D"));
        assert!(!is_valid("11100000000013127A"));
        assert!(!is_valid("11100000000013127"));
        assert!(!is_valid("11100000000013127DD"));
        // Letters outside the alphabet (I, O, S, V, Z) and lower case never pass.
        assert!(!is_valid("1110000000001312OD"));
        assert!(!is_valid("11100000000013127d"));
    }

    #[test]
    fn every_code_has_exactly_one_check_character() {
        let body = "91320602MA1XXXXXX";
        let passing: Vec<char> = super::ALPHABET
            .chars()
            .filter(|c| is_valid(&format!("{body}{c}")))
            .collect();
        assert_eq!(passing.len(), 1, "{passing:?}");
    }
}
