//! What a call's result means for its span: hit, miss, success or failure.
//!
//! Classification is driven by the result's concrete type at the call site, so it sees through
//! type aliases such as `redis::RedisResult<Option<T>>`. It uses "autoref specialization": the
//! generated code calls a method on `&&&&Probe(&result)` and the compiler picks the impl with the
//! most specific type (`Result<Option<T>, E>` before `Result<T, E>` before anything). The ladder
//! lives in [`crate::__outcome!`] so the expansion stays one line.

use std::error::Error as StdError;
use std::fmt::Display;

use crate::failure::Failure;

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
    use super::{hit_or_miss, Display, Failure, Probe, Shape, StdError};
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
            Failure::error::<E>(self.0)
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
            Failure::error::<E>(error)
        }
    }

    pub trait DisplayKind<'a> {
        fn redis_trace_failure(self) -> Failure<'a>;
    }
    impl<'a, E: Display + std::fmt::Debug> DisplayKind<'a> for &Probe<'a, E> {
        fn redis_trace_failure(self) -> Failure<'a> {
            Failure::display(self.0)
        }
    }

    pub trait OpaqueKind<'a> {
        fn redis_trace_failure(self) -> Failure<'a>;
    }
    impl<'a, E> OpaqueKind<'a> for Probe<'a, E> {
        fn redis_trace_failure(self) -> Failure<'a> {
            Failure::opaque::<E>()
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
}
