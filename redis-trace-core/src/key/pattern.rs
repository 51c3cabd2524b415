//! The pattern key policy: a key's shape with the parts that look like ids replaced by `?`
//! (`user:12345:profile` → `user:?:profile`).
//!
//! One pass over the bytes: it runs for every key of every kept span whose key is a runtime
//! value (a template's pattern is computed at compile time). Whether a segment is an id depends
//! only on which kinds of byte it holds and on its length, so each byte is one table load and
//! one `or` into the segment's kinds.

use crate::text::TextBuf;

/// `:`, `/`, `|`, `#`, `{`, `}`, `,`, `;`, `=`, space: kept as they are, between segments (all
/// ASCII, so a byte test is exact in UTF-8).
const SEPARATOR: u8 = 1;
const DIGIT: u8 = 1 << 1;
/// `a`-`f`, `A`-`F`.
const HEX_LETTER: u8 = 1 << 2;
/// The other ASCII letters.
const LETTER: u8 = 1 << 3;
/// `.` and `+`.
const DOT_OR_PLUS: u8 = 1 << 4;
/// `@`, control characters, non-ASCII bytes: the segment is an id.
const MARKER: u8 = 1 << 5;
const OTHER: u8 = 1 << 6;
// `-` is none of these: it keeps a segment numeric and hex.

/// The kind of each byte: one load per byte.
const KINDS: [u8; 256] = {
    let mut kinds = [OTHER; 256];
    let mut byte = 0;
    while byte < 256 {
        kinds[byte] = match byte as u8 {
            b':' | b'/' | b'|' | b'#' | b'{' | b'}' | b',' | b';' | b'=' | b' ' => SEPARATOR,
            b'0'..=b'9' => DIGIT,
            b'a'..=b'f' | b'A'..=b'F' => HEX_LETTER,
            b'g'..=b'z' | b'G'..=b'Z' => LETTER,
            b'-' => 0,
            b'.' | b'+' => DOT_OR_PLUS,
            b'@' | 0..=0x1f | 0x7f.. => MARKER,
            _ => OTHER,
        };
        byte += 1;
    }
    kinds
};

/// Appends the key's pattern to `out`, stopping after a segment ends past `limit`.
pub(super) fn pattern(key: &[u8], out: &mut TextBuf, limit: usize) {
    let start = out.len();
    let mut rest = key;
    // Every segment's kinds or-ed: a non-ASCII byte is a `MARKER`, so whether the key may not
    // be UTF-8 is known without a second pass.
    let mut all_kinds = 0;
    loop {
        let mut kinds = 0;
        let mut len = 0;
        let mut separator = None;
        for &byte in rest {
            let kind = KINDS[usize::from(byte)];
            if kind == SEPARATOR {
                separator = Some(byte);
                break;
            }
            kinds |= kind;
            len += 1;
        }
        all_kinds |= kinds;
        push_segment(out, &rest[..len], kinds);
        let Some(separator) = separator else {
            break;
        };
        out.push_ascii(separator);
        rest = &rest[len + 1..];
        if out.len() > limit {
            all_kinds |= if rest.is_ascii() { 0 } else { MARKER };
            break;
        }
    }
    // Binary keys have no readable shape to keep: what was appended is taken back.
    if all_kinds & MARKER != 0 && std::str::from_utf8(key).is_err() {
        out.truncate(start);
        out.push_ascii(b'?');
    }
}

/// Whether a segment of `len` bytes holding the byte `kinds` is an id: a number, a UUID or
/// long hex, an e-mail address, a long token mixing letters and digits, anything with control
/// or non-ASCII characters.
fn is_id(len: usize, kinds: u8) -> bool {
    let has = |wanted: u8| kinds & wanted != 0;
    let numeric = !has(HEX_LETTER | LETTER | OTHER);
    let hex = !has(LETTER | DOT_OR_PLUS | OTHER);
    len > 0
        && (has(MARKER)
            || numeric
            || (hex && len >= 12 && has(DIGIT))
            || (len >= 20 && has(DIGIT) && has(HEX_LETTER | LETTER)))
}

/// Appends `segment`, or `?` for an id.
#[inline]
fn push_segment(out: &mut TextBuf, segment: &[u8], kinds: u8) {
    if is_id(segment.len(), kinds) {
        out.push_ascii(b'?');
    } else {
        // Not an id: only ASCII bytes (a non-ASCII byte makes one).
        out.extend_ascii(segment);
    }
}
