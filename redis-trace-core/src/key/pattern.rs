//! The pattern key policy: a key's shape with the parts that look like ids replaced by `?`
//! (`user:12345:profile` → `user:?:profile`).
//!
//! One pass over the bytes: it runs for every key of every kept span whose key is a runtime
//! value (a template's pattern is computed at compile time).

/// What a byte is to the pattern policy, looked up in [`CLASSES`]: one load per byte.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    /// `:`, `/`, `|`, `#`, `{`, `}`, `,`, `;`, `=`, space: kept as they are, between segments
    /// (all ASCII, so a byte test is exact in UTF-8).
    Separator,
    Digit,
    /// `a`-`f`, `A`-`F`.
    HexLetter,
    /// The other ASCII letters.
    Letter,
    Dash,
    /// `.` and `+`.
    DotOrPlus,
    /// `@`, control characters, non-ASCII bytes: the segment is an id.
    Marker,
    Other,
}

const CLASSES: [Class; 256] = {
    let mut classes = [Class::Other; 256];
    let mut byte = 0;
    while byte < 256 {
        classes[byte] = match byte as u8 {
            b':' | b'/' | b'|' | b'#' | b'{' | b'}' | b',' | b';' | b'=' | b' ' => Class::Separator,
            b'0'..=b'9' => Class::Digit,
            b'a'..=b'f' | b'A'..=b'F' => Class::HexLetter,
            b'g'..=b'z' | b'G'..=b'Z' => Class::Letter,
            b'-' => Class::Dash,
            b'.' | b'+' => Class::DotOrPlus,
            b'@' | 0..=0x1f | 0x7f.. => Class::Marker,
            _ => Class::Other,
        };
        byte += 1;
    }
    classes
};

/// Appends the key's pattern to `out`, stopping after a segment ends past `limit`.
pub(super) fn pattern(key: &[u8], out: &mut String, limit: usize) {
    // Binary keys have no readable shape to keep (the check is a fast scan for ASCII keys).
    if !key.is_ascii() && std::str::from_utf8(key).is_err() {
        out.push('?');
        return;
    }
    let mut shape = Shape::default();
    let mut segment_start = 0;
    for (index, &byte) in key.iter().enumerate() {
        let class = CLASSES[usize::from(byte)];
        if class == Class::Separator {
            shape.push_segment(out, &key[segment_start..index]);
            out.push(char::from(byte));
            shape = Shape::default();
            segment_start = index + 1;
            if out.len() > limit {
                return;
            }
        } else {
            shape.see(class);
        }
    }
    shape.push_segment(out, &key[segment_start..]);
}

/// What one segment looks like, seen byte by byte: whether it is an id. Ids are numbers,
/// UUIDs, long hex, e-mail addresses, long tokens mixing letters and digits, and anything with
/// control or non-ASCII characters.
struct Shape {
    digits: usize,
    letters: usize,
    /// Only digits, `.`, `-`, `+` so far.
    numeric: bool,
    /// Only hex digits and `-` so far.
    hex: bool,
    /// An `@`, a control character or a non-ASCII byte: an id whatever follows.
    surely_id: bool,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            digits: 0,
            letters: 0,
            numeric: true,
            hex: true,
            surely_id: false,
        }
    }
}

impl Shape {
    fn see(&mut self, class: Class) {
        match class {
            Class::Digit => self.digits += 1,
            Class::HexLetter => {
                self.letters += 1;
                self.numeric = false;
            }
            Class::Letter => {
                self.letters += 1;
                self.numeric = false;
                self.hex = false;
            }
            Class::Dash | Class::Separator => {}
            Class::DotOrPlus => self.hex = false,
            Class::Marker => self.surely_id = true,
            Class::Other => {
                self.numeric = false;
                self.hex = false;
            }
        }
    }

    fn is_id(&self, len: usize) -> bool {
        len > 0
            && (self.surely_id
                || self.numeric
                || (self.hex && len >= 12 && self.digits > 0)
                || (len >= 20 && self.digits > 0 && self.letters > 0))
    }

    /// Appends `segment` (the bytes this shape saw), or `?` for an id.
    fn push_segment(&self, out: &mut String, segment: &[u8]) {
        if self.is_id(segment.len()) {
            out.push('?');
        } else {
            // Not an id: only ASCII bytes (a non-ASCII byte makes one), each a `char`. Pushed
            // as they are: validating a short segment as UTF-8 costs more than copying it.
            out.extend(segment.iter().map(|&byte| char::from(byte)));
        }
    }
}
