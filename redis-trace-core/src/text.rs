//! Text helpers shared by keys, statements and error messages.

use std::borrow::Cow;

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

/// UTF-8 text written as bytes, where keys and statements are rendered: an ASCII byte
/// appended is one store (`String::push` encodes a `char`: several times the work, for
/// renderings made of ASCII bytes almost entirely). Writers append whole UTF-8 sequences;
/// the text is checked once, when it is read ([`TextBuf::to_str`]), and a slip would show as
/// U+FFFD, never as a panic.
#[derive(Clone, Debug, Default)]
pub(crate) struct TextBuf(Vec<u8>);

impl TextBuf {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    #[inline]
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// Keeps the first `len` bytes (a length this buffer had: a char boundary).
    #[inline]
    pub(crate) fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }

    /// Appends an ASCII byte.
    #[inline]
    pub(crate) fn push_ascii(&mut self, byte: u8) {
        debug_assert!(byte.is_ascii());
        self.0.push(byte);
    }

    /// Appends ASCII bytes.
    #[inline]
    pub(crate) fn extend_ascii(&mut self, bytes: &[u8]) {
        debug_assert!(bytes.is_ascii());
        self.0.extend_from_slice(bytes);
    }

    #[inline]
    pub(crate) fn push_str(&mut self, text: &str) {
        self.0.extend_from_slice(text.as_bytes());
    }

    #[inline]
    pub(crate) fn push_char(&mut self, c: char) {
        match u8::try_from(c) {
            Ok(byte) if byte.is_ascii() => self.0.push(byte),
            _ => self.push_str(c.encode_utf8(&mut [0; 4])),
        }
    }

    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Keeps at most `max_len` bytes of what follows `start` (a char boundary), cut between
    /// characters.
    #[inline(always)] // Called per key and per statement; almost always within the cap.
    pub(crate) fn truncate_appended(&mut self, start: usize, max_len: usize) {
        if self.0.len() - start > max_len {
            self.cut(start, max_len);
        }
    }

    #[cold]
    fn cut(&mut self, start: usize, max_len: usize) {
        let mut end = start + max_len;
        // Back over continuation bytes (`10xxxxxx`) to the start of a character.
        while end > start && self.0[end] & 0xC0 == 0x80 {
            end -= 1;
        }
        self.0.truncate(end);
    }

    /// The text.
    pub(crate) fn to_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }
}

impl std::fmt::Write for TextBuf {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.push_str(text);
        Ok(())
    }
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
    use super::{push_decimal, truncate_on_char_boundary, TextBuf};

    #[test]
    fn text_buffers_cut_between_characters() {
        for max_len in 0..8 {
            let mut text = TextBuf::default();
            text.push_str("ab");
            text.push_char('é');
            text.push_char('x');
            text.push_str("€!");
            text.truncate_appended(1, max_len);
            let expected = truncate_on_char_boundary("béx€!", max_len);
            assert_eq!(text.to_str(), format!("a{expected}"), "max_len {max_len}");
        }
    }

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
