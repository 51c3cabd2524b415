//! The pub/sub envelope: trace context in front of a payload, which has no headers.
//!
//! Wire format, version 1 (stable):
//!
//! ```text
//! 0x1E "otel1" 0x1E  carrier  0x1E  payload
//! ```
//!
//! `carrier` is the propagator's fields as `name=value` pairs joined by `&` (W3C:
//! `traceparent=00-<trace id>-<span id>-<flags>`, then `&tracestate=...` when there is one),
//! printable ASCII, at most 1024 bytes. `payload` is the original bytes, unchanged. A payload
//! that does not start with the 7-byte marker is not an envelope and is delivered as it is; one
//! that starts with it but has no terminating 0x1E within 1024 bytes is delivered as it is too.
//! A terminated carrier that does not hold a valid trace context is removed and ignored.

use opentelemetry::trace::SpanContext;

use super::carrier;

/// The marker every envelope starts with.
pub const MARKER: &[u8] = b"\x1eotel1\x1e";
const SEPARATOR: u8 = 0x1e;
/// The longest carrier read.
pub const MAX_CARRIER: usize = 1024;

/// `payload` in an envelope carrying `fields`; `None` when there is nothing to carry.
pub(crate) fn wrap(fields: &[(String, String)], payload: &[u8]) -> Option<Vec<u8>> {
    // `name=value&name=value`, written straight into the wrapped message.
    let carrier_len = (fields.iter())
        .map(|(name, value)| name.len() + 1 + value.len())
        .sum::<usize>()
        + fields.len().saturating_sub(1);
    let forbidden = |text: &String| text.as_bytes().contains(&SEPARATOR);
    if carrier_len == 0
        || carrier_len > MAX_CARRIER
        || fields
            .iter()
            .any(|(name, value)| forbidden(name) || forbidden(value))
    {
        return None;
    }
    let mut wrapped = Vec::with_capacity(MARKER.len() + carrier_len + 1 + payload.len());
    wrapped.extend_from_slice(MARKER);
    for (index, (name, value)) in fields.iter().enumerate() {
        if index > 0 {
            wrapped.push(b'&');
        }
        wrapped.extend_from_slice(name.as_bytes());
        wrapped.push(b'=');
        wrapped.extend_from_slice(value.as_bytes());
    }
    wrapped.push(SEPARATOR);
    wrapped.extend_from_slice(payload);
    Some(wrapped)
}

/// The original payload and the trace context its envelope carried, if any.
pub(crate) fn unwrap(message: &[u8]) -> (&[u8], Option<SpanContext>) {
    let (payload, carrier) = split(message);
    (payload, carrier.and_then(context_of))
}

/// The original payload and its envelope's carrier, if it has one (not parsed).
pub(crate) fn split(message: &[u8]) -> (&[u8], Option<&[u8]>) {
    let Some(rest) = message.strip_prefix(MARKER) else {
        return (message, None);
    };
    let window = &rest[..rest.len().min(MAX_CARRIER + 1)];
    let Some(end) = window.iter().position(|&b| b == SEPARATOR) else {
        return (message, None);
    };
    (&rest[end + 1..], Some(&rest[..end]))
}

/// The trace context an envelope's carrier holds, if it holds a valid one.
pub(crate) fn context_of(carrier: &[u8]) -> Option<SpanContext> {
    std::str::from_utf8(carrier).ok().and_then(|carrier| {
        carrier::extract(carrier.split('&').filter_map(|pair| pair.split_once('=')))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn round_trip_keeps_every_byte() {
        let fields = [("traceparent".to_owned(), PARENT.to_owned())];
        for payload in [
            &b""[..],
            b"hello",
            b"\x00\x1e\xff binary \x1eotel1\x1e",
            &vec![7u8; 1 << 20],
        ] {
            let wrapped = wrap(&fields, payload).unwrap();
            assert!(wrapped.starts_with(b"\x1eotel1\x1etraceparent=00-4bf9"));
            let (unwrapped, context) = unwrap(&wrapped);
            assert_eq!(unwrapped, payload);
            assert_eq!(context.unwrap().span_id().to_string(), "00f067aa0ba902b7");
        }
    }

    #[test]
    fn plain_payloads_pass_through() {
        for payload in [
            &b""[..],
            b"plain",
            b"\x1eotel",
            b"\x1eotel1\x1eno terminator",
        ] {
            assert_eq!(unwrap(payload), (payload, None));
        }
        let unterminated = [MARKER, &vec![b'a'; 2000]].concat();
        assert_eq!(unwrap(&unterminated), (&unterminated[..], None));
    }

    #[test]
    fn a_bad_carrier_is_removed_and_ignored() {
        for carrier in [
            "",
            "garbage",
            "traceparent=ff-x",
            "traceparent=\u{7f}",
            "=&=&&",
        ] {
            let message = [MARKER, carrier.as_bytes(), b"\x1epayload"].concat();
            assert_eq!(unwrap(&message), (&b"payload"[..], None), "{carrier:?}");
        }
        let invalid_utf8 = [MARKER, b"\xff\xfe", b"\x1epayload"].concat();
        assert_eq!(unwrap(&invalid_utf8), (&b"payload"[..], None));
    }

    #[test]
    fn nothing_to_carry_no_envelope() {
        assert_eq!(wrap(&[], b"x"), None);
    }
}
