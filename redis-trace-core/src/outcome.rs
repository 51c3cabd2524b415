//! What a call's result means for its span: hit, miss, success or failure.
//!
//! Classification is driven by the result's concrete type at the call site, so it sees through
//! type aliases such as `redis::RedisResult<Option<T>>`. It uses "autoref specialization": the
//! generated code calls a method on `&&&&Probe(&result)` and the compiler picks the impl with the
//! most specific type (`Result<Option<T>, E>` before `Result<T, E>` before anything). The ladder
//! lives in [`crate::__outcome!`] so the expansion stays one line.

use std::any::type_name;
use std::error::Error as StdError;
use std::fmt::Display;

use crate::semconv;

/// How a call ended, as recorded on its span.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome<'a> {
    /// Completed, nothing to say about a cache hit (`SET`, `DEL`, a plain `Result<T, E>`).
    Ok,
    /// A read that found its value (`Some`, `true`).
    Hit,
    /// A read that found nothing (`None`, `false`). A nil reply is not an error.
    Miss,
    /// The function returned an error.
    Failed(Failure<'a>),
}

/// An error returned by the annotated function, borrowed for classification.
#[derive(Debug)]
pub struct Failure<'a> {
    kind: FailureKind<'a>,
    type_name: &'static str,
}

#[derive(Debug)]
enum FailureKind<'a> {
    Error(&'a (dyn StdError + 'static)),
    Display(&'a dyn DisplayDebug),
    Opaque,
}

/// `Display` and `Debug` as one object type.
pub trait DisplayDebug: Display + std::fmt::Debug {}
impl<T: Display + std::fmt::Debug + ?Sized> DisplayDebug for T {}

/// The span attributes and status a failure maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorAttributes {
    /// `error.type`: low-cardinality class of the failure.
    pub error_type: String,
    /// `db.response.status_code`: the Redis error prefix when the server replied with an error.
    pub status_code: Option<String>,
    /// The span status description: the error's message, without echoed command arguments.
    pub message: String,
}

/// Longest status description recorded, in bytes; error messages can be long.
pub const MAX_MESSAGE_LEN: usize = 1024;

impl Failure<'_> {
    /// Maps the failure to `error.type`, `db.response.status_code` and a status message.
    ///
    /// A `redis::RedisError` anywhere in the error's `source()` chain is found and used, so user
    /// error enums wrapping it (`#[from] RedisError`) still report the Redis error code.
    #[must_use]
    pub fn attributes(&self) -> ErrorAttributes {
        match self.kind {
            FailureKind::Error(error) => {
                let redis_error = find_redis_error(error);
                // A server error at the top reads better as `CODE: detail` than redis-rs's
                // `"CODE": detail`; a wrapping error keeps its own message.
                let message = match redis_error {
                    Some(redis_error) if std::ptr::addr_eq(redis_error, error) => {
                        server_error_message(redis_error).unwrap_or_else(|| error.to_string())
                    }
                    _ => error.to_string(),
                };
                let message = sanitize_message(&message);
                match redis_error {
                    Some(redis_error) => redis_error_attributes(redis_error, message),
                    None => ErrorAttributes {
                        error_type: io_error_type(error).unwrap_or(self.type_name).to_owned(),
                        status_code: None,
                        message,
                    },
                }
            }
            FailureKind::Display(error) => ErrorAttributes {
                error_type: self.type_name.to_owned(),
                status_code: None,
                message: sanitize_message(&error.to_string()),
            },
            FailureKind::Opaque => ErrorAttributes {
                error_type: self.type_name.to_owned(),
                status_code: None,
                message: String::new(),
            },
        }
    }
}

fn find_redis_error<'e>(error: &'e (dyn StdError + 'static)) -> Option<&'e redis::RedisError> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(redis_error) = error.downcast_ref::<redis::RedisError>() {
            return Some(redis_error);
        }
        current = error.source();
    }
    None
}

fn server_error_message(error: &redis::RedisError) -> Option<String> {
    let code = error.code()?;
    Some(match error.detail() {
        Some(detail) => format!("{code}: {detail}"),
        None => code.to_owned(),
    })
}

fn io_error_type(error: &(dyn StdError + 'static)) -> Option<&'static str> {
    let io_error = error.downcast_ref::<std::io::Error>()?;
    Some(match io_error.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => semconv::TIMEOUT,
        _ => semconv::IO,
    })
}

/// `error.type` and `db.response.status_code` for a redis-rs error.
#[must_use]
pub fn redis_error_attributes(error: &redis::RedisError, message: String) -> ErrorAttributes {
    let status_code = error.code().map(str::to_owned);
    let error_type = if let Some(code) = &status_code {
        code.clone()
    } else if error.is_timeout() {
        semconv::TIMEOUT.to_owned()
    } else if error.is_io_error() || error.is_connection_refusal() || error.is_connection_dropped()
    {
        semconv::IO.to_owned()
    } else {
        redis_kind_name(error.kind()).to_owned()
    };
    ErrorAttributes {
        error_type,
        status_code,
        message,
    }
}

fn redis_kind_name(kind: redis::ErrorKind) -> &'static str {
    use redis::ErrorKind as K;
    match kind {
        K::Parse => "parse",
        K::AuthenticationFailed => "authentication_failed",
        K::UnexpectedReturnType => "unexpected_return_type",
        K::InvalidClientConfig => "invalid_client_config",
        K::Io => semconv::IO,
        K::Client => "client",
        K::ClusterConnectionNotFound => "cluster_connection_not_found",
        _ => semconv::OTHER,
    }
}

/// Caps the message and drops what the server echoes of the command's arguments
/// (`ERR unknown command 'X', with args beginning with: 'secret'`): values never reach telemetry.
pub(crate) fn sanitize_message(message: &str) -> String {
    const ECHOED_ARGS: &str = ", with args beginning with:";
    let message = message
        .find(ECHOED_ARGS)
        .map_or(message, |at| &message[..at]);
    truncate_on_char_boundary(message, MAX_MESSAGE_LEN).to_owned()
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
#[must_use]
pub fn truncate_on_char_boundary(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Wraps a reference for autoref-specialized classification. Used by generated code only.
#[doc(hidden)]
pub struct Probe<'a, T: ?Sized>(pub &'a T);

// Not derived: a derive would require `T: Copy`, but only the reference is copied.
impl<T: ?Sized> Clone for Probe<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: ?Sized> Copy for Probe<'_, T> {}

/// The result's shape; the error, if any, is classified in a second step.
#[doc(hidden)]
pub enum Shape<'a, E> {
    Ok,
    Hit,
    Miss,
    Failed(&'a E),
}

impl<E> Shape<'_, E> {
    /// The outcome of a shape that is not `Failed`.
    #[doc(hidden)]
    #[must_use]
    pub fn settled(self) -> Outcome<'static> {
        match self {
            Shape::Hit => Outcome::Hit,
            Shape::Miss => Outcome::Miss,
            Shape::Ok | Shape::Failed(_) => Outcome::Ok,
        }
    }
}

fn hit_or_miss<'a, E>(hit: bool) -> Shape<'a, E> {
    if hit {
        Shape::Hit
    } else {
        Shape::Miss
    }
}

/// The classification ladders, most specific first. Brought into scope by [`crate::__outcome!`].
#[doc(hidden)]
pub mod ladder {
    use super::{hit_or_miss, type_name, Display, Failure, FailureKind, Probe, Shape, StdError};
    use std::convert::Infallible;

    pub trait ResultOfOption<'a, E> {
        fn redis_trace_shape(self) -> Shape<'a, E>;
    }
    impl<'a, T, E> ResultOfOption<'a, E> for &&&&Probe<'a, Result<Option<T>, E>> {
        fn redis_trace_shape(self) -> Shape<'a, E> {
            match self.0 {
                Ok(value) => hit_or_miss(value.is_some()),
                Err(error) => Shape::Failed(error),
            }
        }
    }

    pub trait ResultOfBool<'a, E> {
        fn redis_trace_shape(self) -> Shape<'a, E>;
    }
    impl<'a, E> ResultOfBool<'a, E> for &&&Probe<'a, Result<bool, E>> {
        fn redis_trace_shape(self) -> Shape<'a, E> {
            match self.0 {
                Ok(found) => hit_or_miss(*found),
                Err(error) => Shape::Failed(error),
            }
        }
    }

    pub trait AnyResult<'a, E> {
        fn redis_trace_shape(self) -> Shape<'a, E>;
    }
    impl<'a, T, E> AnyResult<'a, E> for &&Probe<'a, Result<T, E>> {
        fn redis_trace_shape(self) -> Shape<'a, E> {
            match self.0 {
                Ok(_) => Shape::Ok,
                Err(error) => Shape::Failed(error),
            }
        }
    }

    pub trait AnyOption {
        fn redis_trace_shape(self) -> Shape<'static, Infallible>;
    }
    impl<T> AnyOption for &Probe<'_, Option<T>> {
        fn redis_trace_shape(self) -> Shape<'static, Infallible> {
            hit_or_miss(self.0.is_some())
        }
    }

    pub trait AnyValue {
        fn redis_trace_shape(self) -> Shape<'static, Infallible>;
    }
    impl<T: ?Sized> AnyValue for Probe<'_, T> {
        fn redis_trace_shape(self) -> Shape<'static, Infallible> {
            Shape::Ok
        }
    }

    pub trait StdErrorKind<'a> {
        fn redis_trace_failure(self) -> Failure<'a>;
    }
    impl<'a, E: StdError + 'static> StdErrorKind<'a> for &&&Probe<'a, E> {
        fn redis_trace_failure(self) -> Failure<'a> {
            Failure {
                kind: FailureKind::Error(self.0),
                type_name: type_name::<E>(),
            }
        }
    }

    /// `anyhow::Error`, `Box<dyn Error + Send + Sync>` and the like.
    pub trait BoxedErrorKind<'a> {
        fn redis_trace_failure(self) -> Failure<'a>;
    }
    impl<'a, E> BoxedErrorKind<'a> for &&Probe<'a, E>
    where
        E: AsRef<dyn StdError + Send + Sync + 'static>,
    {
        fn redis_trace_failure(self) -> Failure<'a> {
            let error: &'a (dyn StdError + Send + Sync + 'static) = self.0.as_ref();
            Failure {
                kind: FailureKind::Error(error),
                type_name: type_name::<E>(),
            }
        }
    }

    pub trait DisplayKind<'a> {
        fn redis_trace_failure(self) -> Failure<'a>;
    }
    impl<'a, E: Display + std::fmt::Debug> DisplayKind<'a> for &Probe<'a, E> {
        fn redis_trace_failure(self) -> Failure<'a> {
            Failure {
                kind: FailureKind::Display(self.0),
                type_name: type_name::<E>(),
            }
        }
    }

    pub trait OpaqueKind<'a> {
        fn redis_trace_failure(self) -> Failure<'a>;
    }
    impl<'a, E> OpaqueKind<'a> for Probe<'a, E> {
        fn redis_trace_failure(self) -> Failure<'a> {
            Failure {
                kind: FailureKind::Opaque,
                type_name: type_name::<E>(),
            }
        }
    }
}

/// Classifies `&result` by its concrete type. Used by generated code only.
#[doc(hidden)]
#[macro_export]
macro_rules! __outcome {
    ($result:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::ladder::*;
        match (&&&&$crate::__private::Probe($result)).redis_trace_shape() {
            $crate::__private::Shape::Failed(error) => $crate::__private::Outcome::Failed(
                (&&&$crate::__private::Probe(error)).redis_trace_failure(),
            ),
            shape => shape.settled(),
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome_kind(outcome: &Outcome<'_>) -> &'static str {
        match outcome {
            Outcome::Ok => "ok",
            Outcome::Hit => "hit",
            Outcome::Miss => "miss",
            Outcome::Failed(_) => "failed",
        }
    }

    type Aliased<T> = redis::RedisResult<T>;

    #[test]
    fn shapes_are_classified_through_aliases() {
        let hit: Aliased<Option<String>> = Ok(Some("v".into()));
        let miss: Aliased<Option<String>> = Ok(None);
        let found: Aliased<bool> = Ok(true);
        let absent: Aliased<bool> = Ok(false);
        let plain: Aliased<i64> = Ok(3);
        let bytes: Aliased<Vec<u8>> = Ok(vec![1]);
        let option: Option<u8> = None;
        let value = 5_u32;
        assert_eq!(outcome_kind(&crate::__outcome!(&hit)), "hit");
        assert_eq!(outcome_kind(&crate::__outcome!(&miss)), "miss");
        assert_eq!(outcome_kind(&crate::__outcome!(&found)), "hit");
        assert_eq!(outcome_kind(&crate::__outcome!(&absent)), "miss");
        assert_eq!(outcome_kind(&crate::__outcome!(&plain)), "ok");
        assert_eq!(outcome_kind(&crate::__outcome!(&bytes)), "ok");
        assert_eq!(outcome_kind(&crate::__outcome!(&option)), "miss");
        assert_eq!(outcome_kind(&crate::__outcome!(&value)), "ok");
    }

    #[derive(Debug)]
    struct Wrapper(redis::RedisError);
    impl Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("repository failed")
        }
    }
    impl StdError for Wrapper {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    fn failure_attributes(outcome: Outcome<'_>) -> ErrorAttributes {
        match outcome {
            Outcome::Failed(failure) => failure.attributes(),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn errors_of_every_kind_are_classified() {
        let io =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let wrapped: Result<(), Wrapper> = Err(Wrapper(io.clone()));
        let attributes = failure_attributes(crate::__outcome!(&wrapped));
        assert_eq!(attributes.error_type, "io");
        assert_eq!(attributes.status_code, None);
        assert_eq!(attributes.message, "repository failed");

        let boxed: Result<(), Box<dyn StdError + Send + Sync>> = Err("boom".into());
        let attributes = failure_attributes(crate::__outcome!(&boxed));
        assert!(
            attributes.error_type.starts_with("alloc::boxed::Box<"),
            "{attributes:?}"
        );
        assert_eq!(attributes.message, "boom");

        let text: Result<Option<u8>, String> = Err("plain text".into());
        let attributes = failure_attributes(crate::__outcome!(&text));
        assert_eq!(attributes.error_type, "alloc::string::String");
        assert_eq!(attributes.message, "plain text");

        struct Unprintable;
        let opaque: Result<bool, Unprintable> = Err(Unprintable);
        let attributes = failure_attributes(crate::__outcome!(&opaque));
        assert!(attributes.error_type.ends_with("Unprintable"));
        assert_eq!(attributes.message, "");
    }

    #[test]
    fn echoed_arguments_and_long_messages_are_cut() {
        assert_eq!(
            sanitize_message("ERR unknown command 'FOO', with args beginning with: 'secret'"),
            "ERR unknown command 'FOO'"
        );
        let long = "é".repeat(MAX_MESSAGE_LEN);
        let cut = sanitize_message(&long);
        assert!(cut.len() <= MAX_MESSAGE_LEN && cut.chars().all(|c| c == 'é'));
    }
}
