//! What a failed call records: `error.type`, `db.response.status_code` and the status message.
//!
//! Every failure, whether the annotated function returned an error, a connection got an error
//! reply, or the call was cancelled or panicked, becomes one [`ErrorAttributes`]. Redis error
//! text is formatted in one place ([`server_error_text`]) and cleaned in one place
//! ([`sanitize_message`]).

use std::any::type_name;
use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt::Display;

use opentelemetry::StringValue;

use crate::semconv;
use crate::text::truncate_on_char_boundary;

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

/// The span attributes and status a failure maps to; the metrics carry the first two.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ErrorAttributes {
    /// `error.type`: low-cardinality class of the failure.
    pub(crate) error_type: StringValue,
    /// `db.response.status_code`: the Redis error prefix when the server replied with an error.
    pub(crate) status_code: Option<StringValue>,
    /// The span status description: the error's message, without echoed command arguments.
    pub(crate) message: Cow<'static, str>,
}

/// Longest status description recorded, in bytes; error messages can be long.
const MAX_MESSAGE_LEN: usize = 1024;

impl<'a> Failure<'a> {
    /// An error implementing `std::error::Error` (boxed ones included).
    pub(crate) fn error<E: ?Sized>(error: &'a (dyn StdError + 'static)) -> Self {
        Self {
            kind: FailureKind::Error(error),
            type_name: type_name::<E>(),
        }
    }

    /// An error that only implements `Display` and `Debug`.
    pub(crate) fn display<E: DisplayDebug>(error: &'a E) -> Self {
        Self {
            kind: FailureKind::Display(error),
            type_name: type_name::<E>(),
        }
    }

    /// An error that cannot be printed.
    pub(crate) fn opaque<E: ?Sized>() -> Self {
        Self {
            kind: FailureKind::Opaque,
            type_name: type_name::<E>(),
        }
    }

    /// Maps the failure to `error.type`, `db.response.status_code` and a status message.
    ///
    /// A `redis::RedisError` anywhere in the error's `source()` chain is found and used, so user
    /// error enums wrapping it (`#[from] RedisError`) still report the Redis error code.
    pub(crate) fn attributes(&self) -> ErrorAttributes {
        let (error_type, status_code, message) = match self.kind {
            FailureKind::Error(error) => {
                let redis_error = find_redis_error(error);
                // A server error at the top reads better as `CODE: detail` than redis-rs's
                // `"CODE": detail`; a wrapping error keeps its own message. Compared by type,
                // not address: an enum variant holding the Redis error at offset 0 has its
                // address but its own message.
                let message = match redis_error {
                    Some(redis_error) if error.is::<redis::RedisError>() => {
                        redis_error.code().map_or_else(
                            || error.to_string(),
                            |code| server_error_text(code, redis_error.detail()),
                        )
                    }
                    _ => error.to_string(),
                };
                match redis_error {
                    Some(redis_error) => (
                        redis_error_type(redis_error),
                        redis_error.code().map(|code| code.to_owned().into()),
                        message,
                    ),
                    None => (
                        io_error_type(error).unwrap_or(self.type_name).into(),
                        None,
                        message,
                    ),
                }
            }
            FailureKind::Display(error) => (self.type_name.into(), None, error.to_string()),
            FailureKind::Opaque => (self.type_name.into(), None, String::new()),
        };
        ErrorAttributes {
            error_type,
            status_code,
            message: sanitize_message(&message).into(),
        }
    }
}

impl ErrorAttributes {
    /// An error reply (`-CODE detail`) inside an otherwise successful answer.
    pub(crate) fn server_error(error: &redis::ServerError) -> Self {
        Self {
            error_type: error.code().to_owned().into(),
            status_code: Some(error.code().to_owned().into()),
            message: sanitize_message(&server_error_text(error.code(), error.details())).into(),
        }
    }

    /// A call whose future was dropped before it completed, or whose body panicked.
    pub(crate) fn dropped(panicked: bool) -> Self {
        let (error_type, message) = if panicked {
            (semconv::PANIC, "the traced function panicked")
        } else {
            (
                semconv::CANCELLED,
                "the traced call was cancelled before it completed",
            )
        };
        Self {
            error_type: error_type.into(),
            status_code: None,
            message: message.into(),
        }
    }
}

/// How Redis error replies read in span status messages: `CODE: detail`.
fn server_error_text(code: &str, detail: Option<&str>) -> String {
    match detail {
        Some(detail) => format!("{code}: {detail}"),
        None => code.to_owned(),
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

fn io_error_type(error: &(dyn StdError + 'static)) -> Option<&'static str> {
    let io_error = error.downcast_ref::<std::io::Error>()?;
    Some(match io_error.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => semconv::TIMEOUT,
        _ => semconv::IO,
    })
}

/// `error.type` of a redis-rs error: the server's error code, else a stable class.
fn redis_error_type(error: &redis::RedisError) -> StringValue {
    use redis::ErrorKind as K;
    if let Some(code) = error.code() {
        return code.to_owned().into();
    }
    let class = if error.is_timeout() {
        semconv::TIMEOUT
    } else if error.is_io_error() || error.is_connection_refusal() || error.is_connection_dropped()
    {
        semconv::IO
    } else {
        match error.kind() {
            K::Parse => "parse",
            K::AuthenticationFailed => "authentication_failed",
            K::UnexpectedReturnType => "unexpected_return_type",
            K::InvalidClientConfig => "invalid_client_config",
            K::Io => semconv::IO,
            K::Client => "client",
            K::ClusterConnectionNotFound => "cluster_connection_not_found",
            _ => semconv::OTHER,
        }
    };
    class.into()
}

/// Caps the message and drops what the server echoes of the command's arguments
/// (`ERR unknown command 'X', with args beginning with: 'secret'`): values never reach telemetry.
fn sanitize_message(message: &str) -> String {
    const ECHOED_ARGS: &str = ", with args beginning with:";
    let message = message
        .find(ECHOED_ARGS)
        .map_or(message, |at| &message[..at]);
    truncate_on_char_boundary(message, MAX_MESSAGE_LEN).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;

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
        let attributes = failure_attributes(crate::outcome::outcome_of!(&wrapped));
        assert_eq!(attributes.error_type.as_str(), "io");
        assert_eq!(attributes.status_code, None);
        assert_eq!(attributes.message, "repository failed");

        let boxed: Result<(), Box<dyn StdError + Send + Sync>> = Err("boom".into());
        let attributes = failure_attributes(crate::outcome::outcome_of!(&boxed));
        assert!(
            attributes
                .error_type
                .as_str()
                .starts_with("alloc::boxed::Box<"),
            "{attributes:?}"
        );
        assert_eq!(attributes.message, "boom");

        let text: Result<Option<u8>, String> = Err("plain text".into());
        let attributes = failure_attributes(crate::outcome::outcome_of!(&text));
        assert_eq!(attributes.error_type.as_str(), "alloc::string::String");
        assert_eq!(attributes.message, "plain text");

        struct Unprintable;
        let opaque: Result<bool, Unprintable> = Err(Unprintable);
        let attributes = failure_attributes(crate::outcome::outcome_of!(&opaque));
        assert!(attributes.error_type.as_str().ends_with("Unprintable"));
        assert_eq!(attributes.message, "");
    }

    #[test]
    fn returned_and_replied_server_errors_read_the_same() {
        let redis::Value::ServerError(reply) =
            redis::parse_redis_value(b"-WRONGTYPE Operation against a key\r\n").unwrap()
        else {
            panic!("not an error reply");
        };
        let returned: redis::RedisResult<()> = Err(redis::RedisError::from(reply.clone()));
        let from_result = failure_attributes(crate::outcome::outcome_of!(&returned));
        let from_reply = ErrorAttributes::server_error(&reply);
        assert_eq!(from_result, from_reply);
        assert_eq!(from_reply.error_type.as_str(), "WRONGTYPE");
        assert_eq!(from_reply.message, "WRONGTYPE: Operation against a key");
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
