//! Recently rendered keys and statements, shared instead of allocated again.
//!
//! Renderings repeat (`user:?`, `GET user:?`), and a span's strings are freed by the span
//! processor's thread, which makes every fresh string a cross-thread free that contends on
//! the allocator. Each thread keeps its last few renderings: a repeat costs a comparison and a
//! reference count instead of an allocation.

use std::cell::RefCell;
use std::sync::Arc;

use opentelemetry::StringValue;

use crate::key::KeyPolicy;
use crate::text::TextBuf;

/// Renderings kept per thread.
const SLOTS: usize = 16;
/// Longer renderings are not kept (they rarely repeat, and would hold memory).
const MAX_KEPT_LEN: usize = 256;

#[derive(Default)]
struct Recent {
    kept: Kept,
    /// Where keys and statements are rendered before they are looked up.
    scratch: TextBuf,
}

/// The renderings kept.
#[derive(Default)]
struct Kept {
    entries: [Option<Arc<str>>; SLOTS],
    /// The slot the next new rendering replaces (round robin).
    next: usize,
}

impl Kept {
    fn share(&mut self, text: &str) -> Arc<str> {
        if text.len() > MAX_KEPT_LEN {
            return Arc::from(text);
        }
        let found = self.entries.iter().flatten().find(|kept| &***kept == text);
        if let Some(kept) = found {
            return kept.clone();
        }
        let shared: Arc<str> = Arc::from(text);
        self.entries[self.next] = Some(shared.clone());
        self.next = (self.next + 1) % SLOTS;
        shared
    }

    /// [`Kept::share`] for a rendering: a repeat is found by its bytes, and only a new one
    /// is read as text (checked as UTF-8).
    fn share_rendered(&mut self, rendered: &TextBuf) -> Arc<str> {
        let bytes = rendered.as_bytes();
        let found = (bytes.len() <= MAX_KEPT_LEN)
            .then(|| (self.entries.iter().flatten()).find(|kept| kept.as_bytes() == bytes))
            .flatten();
        match found {
            Some(kept) => kept.clone(),
            None => self.share(&rendered.to_str()),
        }
    }
}

thread_local! {
    static RECENT: RefCell<Recent> = RefCell::default();
}

/// `text` as a shared string value, reusing this thread's copy when it was seen recently.
pub(crate) fn share(text: &str) -> StringValue {
    let shared = RECENT
        .try_with(|recent| match recent.try_borrow_mut() {
            Ok(mut recent) => recent.kept.share(text),
            Err(_) => Arc::from(text),
        })
        .unwrap_or_else(|_| Arc::from(text));
    StringValue::from(shared)
}

/// What `render` appends to an empty string, as a shared string value: rendered into this
/// thread's scratch buffer, so a repeat allocates nothing.
pub(crate) fn share_rendered(render: impl FnOnce(&mut TextBuf)) -> StringValue {
    let mut render = Some(render);
    // Rendered while this thread's buffers are borrowed: a custom key renderer that itself
    // traces a call finds them in use, and renders into a fresh buffer (below).
    let shared = RECENT.try_with(|recent| {
        let mut recent = recent.try_borrow_mut().ok()?;
        let Recent { kept, scratch } = &mut *recent;
        scratch.clear();
        render.take()?(scratch);
        Some(kept.share_rendered(scratch))
    });
    let shared = shared.ok().flatten().unwrap_or_else(|| {
        let mut fresh = TextBuf::default();
        if let Some(render) = render.take() {
            render(&mut fresh);
        }
        Arc::from(fresh.to_str())
    });
    StringValue::from(shared)
}

/// `key` rendered by `policy` (at most `max_len` bytes) as a shared string value; `None` when
/// the policy leaves it out.
pub(crate) fn render_key(policy: &KeyPolicy, key: &[u8], max_len: usize) -> Option<StringValue> {
    let shared = RECENT.try_with(|recent| {
        // A custom renderer that itself traces a call finds the cell borrowed: it then renders
        // into a fresh string.
        let mut recent = recent.try_borrow_mut().ok()?;
        let Recent { kept, scratch } = &mut *recent;
        scratch.clear();
        let rendered = policy
            .render_into(key, max_len, scratch)
            .then(|| kept.share_rendered(scratch));
        Some(rendered)
    });
    match shared {
        Ok(Some(rendered)) => rendered.map(StringValue::from),
        _ => policy.render(key, max_len).map(StringValue::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_share_one_string() {
        let first = render_key(&KeyPolicy::Pattern, b"user:1", 256).unwrap();
        let second = render_key(&KeyPolicy::Pattern, b"user:2", 256).unwrap();
        assert_eq!(first.as_str(), "user:?");
        assert_eq!(first.as_str().as_ptr(), second.as_str().as_ptr());
        let other = share("GET user:?");
        assert_eq!(other.as_str(), "GET user:?");
        assert_ne!(other.as_str().as_ptr(), first.as_str().as_ptr());
    }

    /// A rendering that itself renders (a custom key policy calling traced code) gets a
    /// buffer of its own: neither is cut short or mixed with the other.
    #[test]
    fn a_rendering_inside_a_rendering() {
        let custom = KeyPolicy::custom(|key| {
            let inner = share_rendered(|out| out.push_str("inner"));
            Some(format!("{}:{}", inner.as_str(), key.len()))
        });
        let outer = share_rendered(|out| {
            out.push_str("GET ");
            assert!(custom.render_into(b"abc", 256, out));
            let key = render_key(&custom, b"abcd", 256).unwrap();
            out.push_ascii(b' ');
            out.push_str(key.as_str());
        });
        assert_eq!(outer.as_str(), "GET inner:3 inner:4");
    }

    #[test]
    fn long_and_omitted_renderings() {
        let long = "k".repeat(MAX_KEPT_LEN + 1);
        assert_eq!(share(&long).as_str(), long);
        assert_eq!(render_key(&KeyPolicy::Omit, b"user:1", 256), None);
        assert_eq!(
            render_key(&KeyPolicy::Raw, long.as_bytes(), 8)
                .unwrap()
                .as_str(),
            "kkkkkkkk"
        );
    }
}
