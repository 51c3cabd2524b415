//! The pattern key policy: a key's shape with the parts that look like ids replaced by `?`
//! (`user:12345:profile` → `user:?:profile`).

/// Whether `byte` separates a key's segments (`:`, `/`, `|`, `#`, `{`, `}`, `,`, `;`, `=`,
/// space); separators are kept as they are. All are ASCII, so a byte test is exact in UTF-8.
fn is_separator(byte: u8) -> bool {
    matches!(
        byte,
        b':' | b'/' | b'|' | b'#' | b'{' | b'}' | b',' | b';' | b'=' | b' '
    )
}

/// Appends the key's pattern to `out`, stopping after a segment ends past `limit`.
pub(super) fn pattern(key: &[u8], out: &mut String, limit: usize) {
    let Ok(text) = std::str::from_utf8(key) else {
        // Binary keys have no readable shape to keep.
        out.push('?');
        return;
    };
    let mut segment_start = 0;
    for (index, &byte) in key.iter().enumerate() {
        if is_separator(byte) {
            push_segment(out, &text[segment_start..index]);
            out.push(char::from(byte));
            segment_start = index + 1;
            if out.len() > limit {
                return;
            }
        }
    }
    push_segment(out, &text[segment_start..]);
}

fn push_segment(out: &mut String, segment: &str) {
    if looks_like_an_id(segment) {
        out.push('?');
    } else {
        out.push_str(segment);
    }
}

/// Numbers, UUIDs, long hex, e-mail addresses, long tokens mixing letters and digits, and
/// anything with control or non-ASCII characters. One pass over the bytes: it runs for every
/// segment of every key a kept span records.
pub(crate) fn looks_like_an_id(segment: &str) -> bool {
    if segment.is_empty() {
        return false;
    }
    let (mut digits, mut letters) = (0_usize, 0_usize);
    let (mut numeric, mut hex) = (true, true);
    for &byte in segment.as_bytes() {
        match byte {
            b'0'..=b'9' => digits += 1,
            b'a'..=b'f' | b'A'..=b'F' => {
                letters += 1;
                numeric = false;
            }
            b'g'..=b'z' | b'G'..=b'Z' => {
                letters += 1;
                numeric = false;
                hex = false;
            }
            b'-' => {}
            b'.' | b'+' => hex = false,
            // E-mail addresses, control characters and anything not ASCII.
            b'@' | 0..=0x1f | 0x7f.. => return true,
            _ => {
                numeric = false;
                hex = false;
            }
        }
    }
    numeric
        || (hex && segment.len() >= 12 && digits > 0)
        || (segment.len() >= 20 && digits > 0 && letters > 0)
}
