//! The unified social credit code (统一社会信用代码, GB 32100-2015): whether an 18-character
//! code's check character is right. Read by the parser (`parse::meta`) and the names.

/// GB 32100-2015 check character.
pub fn is_valid(code: &str) -> bool {
    const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [usize; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let vals: Option<Vec<usize>> = code.chars().map(|c| ALPHABET.find(c)).collect();
    let Some(vals) = vals else { return false };
    if vals.len() != 18 {
        return false;
    }
    let sum: usize = vals[..17].iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    (31 - sum % 31) % 31 == vals[17]
}
