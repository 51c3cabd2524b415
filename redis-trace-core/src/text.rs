//! Text helpers shared by keys, statements and error messages.

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
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

#[cfg(test)]
mod tests {
    use super::truncate_on_char_boundary;

    #[test]
    fn cuts_between_characters() {
        assert_eq!(truncate_on_char_boundary("abc", 8), "abc");
        assert_eq!(truncate_on_char_boundary("abc", 2), "ab");
        assert_eq!(truncate_on_char_boundary("éé", 3), "é");
        assert_eq!(truncate_on_char_boundary("é", 0), "");
    }
}
