//! Text helpers shared by keys, statements and error messages.

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
#[inline]
pub(crate) fn truncate_on_char_boundary(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Appends `number` in decimal (span names' ports), without `format!`.
pub(crate) fn push_decimal(out: &mut String, number: u16) {
    let mut digits = [0_u8; 5];
    let mut rest = number;
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &digit in &digits[start..] {
        out.push(char::from(digit));
    }
}

#[cfg(test)]
mod tests {
    use super::{push_decimal, truncate_on_char_boundary};

    #[test]
    fn ports_are_written_in_decimal() {
        for port in [0_u16, 7, 10, 6379, 65535] {
            let mut out = String::new();
            push_decimal(&mut out, port);
            assert_eq!(out, port.to_string());
        }
    }

    #[test]
    fn cuts_between_characters() {
        assert_eq!(truncate_on_char_boundary("abc", 8), "abc");
        assert_eq!(truncate_on_char_boundary("abc", 2), "ab");
        assert_eq!(truncate_on_char_boundary("éé", 3), "é");
        assert_eq!(truncate_on_char_boundary("é", 0), "");
    }
}
