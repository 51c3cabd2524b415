//! What a call's result says: a value found or not, a flag, several lookups, success or failure.
//!
//! Classification is driven by the result's concrete type at the call site, so it sees through
//! type aliases such as `redis::RedisResult<Option<T>>`. It uses "autoref specialization": the
//! generated code calls a method on `&&&&Probe(&result)` and the compiler picks the impl with the
//! most specific type (`Result<Option<T>, E>` before `Result<T, E>` before anything). The ladder
//! lives in `__classify!` so the expansion stays one line.
//!
//! What a found value or a flag *means* (a cache hit, an applied write, nothing) depends on the
//! command, not the type: the operation decides that with the command table's `Answer`.

use std::error::Error as StdError;
use std::fmt::Display;

use redis_trace_commands::Answer;

use crate::failure::Failure;

/// How a call ended, as its result's type shows it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome<'a> {
    /// Completed; the result's type says nothing more (`()`, a count, a value).
    Ok,
    /// An `Option` came back: whether it holds a value. A nil reply is not an error.
    Found(bool),
    /// A `bool` came back.
    Flag(bool),
    /// Several lookups at once (`Vec<Option<T>>`, tuples of options): how many found a value.
    Counts {
        /// Values found.
        found: u64,
        /// Values missing.
        missing: u64,
    },
    /// The function returned an error.
    Failed(Failure<'a>),
}

/// What an outcome means, given what the command's answer says (see `Command::answer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meaning {
    /// Nothing beyond success or failure.
    Nothing,
    /// One lookup: found (`cache.hit = true`) or not.
    Hit(bool),
    /// Several lookups at once: how many found a value and how many did not.
    Hits { hits: u64, misses: u64 },
    /// A conditional write: whether it applied.
    Applied(bool),
}

impl Outcome<'_> {
    /// What this outcome of a command answering `answer` means. A lock taken with `SET .. NX`
    /// is an applied write, not a cache hit; a count or a script's reply is neither.
    pub(crate) fn meaning(&self, answer: Answer) -> Meaning {
        match (answer, self) {
            (Answer::Lookup, Self::Found(found) | Self::Flag(found)) => Meaning::Hit(*found),
            (Answer::Lookup, Self::Counts { found, missing }) => Meaning::Hits {
                hits: *found,
                misses: *missing,
            },
            (Answer::Applied, Self::Found(applied) | Self::Flag(applied)) => {
                Meaning::Applied(*applied)
            }
            _ => Meaning::Nothing,
        }
    }
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
    Settled(Outcome<'static>),
    Failed(&'a E),
}

impl<E> Shape<'_, E> {
    /// The outcome of a shape that is not `Failed`.
    #[doc(hidden)]
    #[must_use]
    pub fn settled(self) -> Outcome<'static> {
        match self {
            Shape::Settled(outcome) => outcome,
            Shape::Failed(_) => Outcome::Ok,
        }
    }
}

fn settled<'a, E>(outcome: Outcome<'static>) -> Shape<'a, E> {
    Shape::Settled(outcome)
}

/// How many lookups found a value, from each one's `is_some()`.
fn counts(found: impl IntoIterator<Item = bool>) -> Outcome<'static> {
    let (mut hits, mut misses) = (0, 0);
    for found in found {
        if found {
            hits += 1;
        } else {
            misses += 1;
        }
    }
    Outcome::Counts {
        found: hits,
        missing: misses,
    }
}

/// The classification ladders, most specific first. Brought into scope by `__classify!`.
#[doc(hidden)]
pub mod ladder {
    use super::{counts, settled, Display, Failure, Outcome, Probe, Shape, StdError};
    use std::convert::Infallible;

    pub trait ResultOfOption<'a, E> {
        fn redis_trace_shape(self) -> Shape<'a, E>;
    }
    impl<'a, T, E> ResultOfOption<'a, E> for &&&&Probe<'a, Result<Option<T>, E>> {
        fn redis_trace_shape(self) -> Shape<'a, E> {
            match self.0 {
                Ok(value) => settled(Outcome::Found(value.is_some())),
                Err(error) => Shape::Failed(error),
            }
        }
    }

    pub trait ResultOfOptions<'a, E> {
        fn redis_trace_shape(self) -> Shape<'a, E>;
    }
    impl<'a, T, E> ResultOfOptions<'a, E> for &&&&Probe<'a, Result<Vec<Option<T>>, E>> {
        fn redis_trace_shape(self) -> Shape<'a, E> {
            match self.0 {
                Ok(values) => settled(counts(values.iter().map(Option::is_some))),
                Err(error) => Shape::Failed(error),
            }
        }
    }

    /// `Result<(Option<A>, Option<B>, ..), E>`: one trait per arity, as each is its own type.
    macro_rules! tuples_of_options {
        ($($name:ident: $($ty:ident . $index:tt),+;)+) => {$(
            pub trait $name<'a, E> {
                fn redis_trace_shape(self) -> Shape<'a, E>;
            }
            impl<'a, $($ty,)+ E> $name<'a, E> for &&&&Probe<'a, Result<($(Option<$ty>,)+), E>> {
                fn redis_trace_shape(self) -> Shape<'a, E> {
                    match self.0 {
                        Ok(values) => settled(counts([$(values.$index.is_some()),+])),
                        Err(error) => Shape::Failed(error),
                    }
                }
            }
        )+};
    }
    tuples_of_options! {
        ResultOfTwoOptions: A.0, B.1;
        ResultOfThreeOptions: A.0, B.1, C.2;
        ResultOfFourOptions: A.0, B.1, C.2, D.3;
    }

    pub trait ResultOfBool<'a, E> {
        fn redis_trace_shape(self) -> Shape<'a, E>;
    }
    impl<'a, E> ResultOfBool<'a, E> for &&&Probe<'a, Result<bool, E>> {
        fn redis_trace_shape(self) -> Shape<'a, E> {
            match self.0 {
                Ok(flag) => settled(Outcome::Flag(*flag)),
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
                Ok(_) => settled(Outcome::Ok),
                Err(error) => Shape::Failed(error),
            }
        }
    }

    pub trait AnyOption {
        fn redis_trace_shape(self) -> Shape<'static, Infallible>;
    }
    impl<T> AnyOption for &Probe<'_, Option<T>> {
        fn redis_trace_shape(self) -> Shape<'static, Infallible> {
            settled(Outcome::Found(self.0.is_some()))
        }
    }

    pub trait AnyOptions {
        fn redis_trace_shape(self) -> Shape<'static, Infallible>;
    }
    impl<T> AnyOptions for &Probe<'_, Vec<Option<T>>> {
        fn redis_trace_shape(self) -> Shape<'static, Infallible> {
            settled(counts(self.0.iter().map(Option::is_some)))
        }
    }

    pub trait AnyBool {
        fn redis_trace_shape(self) -> Shape<'static, Infallible>;
    }
    impl AnyBool for &Probe<'_, bool> {
        fn redis_trace_shape(self) -> Shape<'static, Infallible> {
            settled(Outcome::Flag(*self.0))
        }
    }

    pub trait AnyValue {
        fn redis_trace_shape(self) -> Shape<'static, Infallible>;
    }
    impl<T: ?Sized> AnyValue for Probe<'_, T> {
        fn redis_trace_shape(self) -> Shape<'static, Infallible> {
            settled(Outcome::Ok)
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

/// Classifies `&result` by its concrete type (the autoref ladder), naming the runtime through
/// the path in brackets: generated code passes the facade's `::redis_trace::__private`, so
/// `cargo expand` shows one runtime path. Used by generated code only.
#[doc(hidden)]
#[macro_export]
macro_rules! __classify {
    ([$($private:tt)*] $result:expr) => {{
        #[allow(unused_imports)]
        use $($private)*::ladder::*;
        match (&&&&$($private)*::Probe($result)).redis_trace_shape() {
            $($private)*::Shape::Failed(error) => $($private)*::Outcome::Failed(
                (&&&$($private)*::Probe(error)).redis_trace_failure(),
            ),
            shape => shape.settled(),
        }
    }};
}

/// [`__classify!`] through this crate's own path, for the core's own code and tests.
macro_rules! outcome_of {
    ($result:expr) => {
        $crate::__classify!([$crate::__private] $result)
    };
}
pub(crate) use outcome_of;

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome_kind(outcome: &Outcome<'_>) -> String {
        match outcome {
            Outcome::Ok => "ok".into(),
            Outcome::Found(found) => format!("found {found}"),
            Outcome::Flag(flag) => format!("flag {flag}"),
            Outcome::Counts { found, missing } => format!("{found} found {missing} missing"),
            Outcome::Failed(_) => "failed".into(),
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
        let several: Aliased<Vec<Option<String>>> =
            Ok(vec![Some("a".into()), None, Some("c".into())]);
        let pair: Aliased<(Option<u8>, Option<String>)> = Ok((None, Some("b".into())));
        type Four = (Option<u8>, Option<u8>, Option<u8>, Option<u8>);
        let four: Aliased<Four> = Ok((None, None, None, Some(1)));
        let bare_options: Vec<Option<u8>> = vec![None];
        let flag = true;
        assert_eq!(outcome_kind(&outcome_of!(&hit)), "found true");
        assert_eq!(outcome_kind(&outcome_of!(&miss)), "found false");
        assert_eq!(outcome_kind(&outcome_of!(&found)), "flag true");
        assert_eq!(outcome_kind(&outcome_of!(&absent)), "flag false");
        assert_eq!(outcome_kind(&outcome_of!(&plain)), "ok");
        assert_eq!(outcome_kind(&outcome_of!(&bytes)), "ok");
        assert_eq!(outcome_kind(&outcome_of!(&option)), "found false");
        assert_eq!(outcome_kind(&outcome_of!(&value)), "ok");
        assert_eq!(outcome_kind(&outcome_of!(&several)), "2 found 1 missing");
        assert_eq!(outcome_kind(&outcome_of!(&pair)), "1 found 1 missing");
        assert_eq!(outcome_kind(&outcome_of!(&four)), "1 found 3 missing");
        assert_eq!(
            outcome_kind(&outcome_of!(&bare_options)),
            "0 found 1 missing"
        );
        assert_eq!(outcome_kind(&outcome_of!(&flag)), "flag true");
    }

    #[test]
    fn meaning_follows_the_command() {
        let found = Outcome::Found(true);
        let taken = Outcome::Flag(false);
        let counted = Outcome::Counts {
            found: 2,
            missing: 1,
        };
        assert_eq!(found.meaning(Answer::Lookup), Meaning::Hit(true));
        assert_eq!(taken.meaning(Answer::Lookup), Meaning::Hit(false));
        assert_eq!(
            counted.meaning(Answer::Lookup),
            Meaning::Hits { hits: 2, misses: 1 }
        );
        assert_eq!(taken.meaning(Answer::Applied), Meaning::Applied(false));
        assert_eq!(counted.meaning(Answer::Applied), Meaning::Nothing);
        assert_eq!(found.meaning(Answer::Other), Meaning::Nothing);
        assert_eq!(Outcome::Ok.meaning(Answer::Lookup), Meaning::Nothing);
    }
}
