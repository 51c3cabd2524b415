//! Extra span attributes from the call site: `fields(user.tier = tier)` and `ttl = secs`.

use std::time::Duration;

use opentelemetry::Value;

/// A value that can become a span attribute. Implemented for strings, integers, floats, `bool`
/// and `Duration` (seconds), and references to them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be recorded as a span attribute",
    label = "not an attribute value",
    note = "fields take strings, integers, floats, `bool` or `Duration`; format other types first"
)]
pub trait FieldValue {
    /// The attribute value.
    fn to_value(&self) -> Value;
}

macro_rules! integer_fields {
    ($($ty:ty),*) => {$(
        impl FieldValue for $ty {
            fn to_value(&self) -> Value {
                // Saturate: an attribute must never fail or panic.
                Value::I64(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
integer_fields!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl FieldValue for f32 {
    fn to_value(&self) -> Value {
        Value::F64(f64::from(*self))
    }
}

impl FieldValue for f64 {
    fn to_value(&self) -> Value {
        Value::F64(*self)
    }
}

impl FieldValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl FieldValue for str {
    fn to_value(&self) -> Value {
        Value::from(self.to_owned())
    }
}

impl FieldValue for String {
    fn to_value(&self) -> Value {
        Value::from(self.clone())
    }
}

impl FieldValue for Duration {
    fn to_value(&self) -> Value {
        Value::F64(self.as_secs_f64())
    }
}

impl<T: FieldValue + ?Sized> FieldValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: FieldValue> FieldValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref()
            .map_or_else(|| Value::from(""), FieldValue::to_value)
    }
}
