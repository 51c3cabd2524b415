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
    entries: [Option<Arc<str>>; SLOTS],
    /// The slot the next new rendering replaces (round robin).
    next: usize,
    /// Where keys and statements are rendered before they are looked up.
    scratch: TextBuf,
}

impl Recent {
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

    /// [`Recent::share`] for a rendering: a repeat is found by its bytes, and only a new one
    /// is read as text (checked as UTF-8).
    fn share_rendered(&mut self, rendered: &TextBuf) -> Arc<str> {
        let bytes = rendered.as_bytes();
        let found = (bytes.len() <= MAX_KEPT_LEN)
            .then(|| {
                self.entries
                    .iter()
                    .flatten()
                    .find(|kept| kept.as_bytes() == bytes)
            })
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
            Ok(mut recent) => recent.share(text),
            Err(_) => Arc::from(text),
        })
        .unwrap_or_else(|_| Arc::from(text));
    StringValue::from(shared)
}

/// What `render` appends to an empty string, as a shared string value: rendered into this
/// thread's scratch buffer, so a repeat allocates nothing.
pub(crate) fn share_rendered(render: impl FnOnce(&mut TextBuf)) -> StringValue {
    // The scratch buffer is taken out while `render` runs: a custom key renderer that itself
    // traces a call renders into a fresh one.
    let mut scratch = RECENT
        .try_with(|recent| {
            recent
                .try_borrow_mut()
                .map(|mut recent| std::mem::take(&mut recent.scratch))
                .unwrap_or_default()
        })
        .unwrap_or_default();
    scratch.clear();
    render(&mut scratch);
    let shared = RECENT
        .try_with(|recent| match recent.try_borrow_mut() {
            Ok(mut recent) => {
                let shared = recent.share_rendered(&scratch);
                recent.scratch = std::mem::take(&mut scratch);
                shared
            }
            Err(_) => Arc::from(scratch.to_str()),
        })
        .unwrap_or_else(|_| Arc::from(scratch.to_str()));
    StringValue::from(shared)
}

/// `key` rendered by `policy` (at most `max_len` bytes) as a shared string value; `None` when
/// the policy leaves it out.
pub(crate) fn render_key(policy: &KeyPolicy, key: &[u8], max_len: usize) -> Option<StringValue> {
    let shared = RECENT.try_with(|recent| {
        // A custom renderer that itself traces a call finds the cell borrowed: it then renders
        // into a fresh string.
        let mut recent = recent.try_borrow_mut().ok()?;
        let mut scratch = std::mem::take(&mut recent.scratch);
        scratch.clear();
        let rendered = policy
            .render_into(key, max_len, &mut scratch)
            .then(|| recent.share_rendered(&scratch));
        recent.scratch = scratch;
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
