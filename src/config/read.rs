//! Reading settings by name while keeping every mistake, so that start-up
//! lists them all, one a line, instead of stopping at the first.

/// Where the settings come from (the environment, or a map in tests) and
/// the mistakes found so far.
pub(super) struct Reader<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<String>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Reader<'a> {
        Reader {
            get,
            errors: Vec::new(),
        }
    }

    /// The value of `name`; one that is only blanks counts as unset.
    pub(super) fn var(&self, name: &str) -> Option<String> {
        (self.get)(name).filter(|v| !v.trim().is_empty())
    }

    /// Notes a mistake; its message starts with the setting's name.
    pub(super) fn error(&mut self, message: String) {
        self.errors.push(message);
    }

    /// A whole number from 1 to `max`; `default` when unset, and when the
    /// value is not one (the mistake noted).
    pub(super) fn count(&mut self, name: &str, default: i64, max: i64) -> i64 {
        match self.var(name) {
            None => default,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => {
                    self.error(format!(
                        "{name}: {v:?} is not a whole number from 1 to {max}"
                    ));
                    default
                }
            },
        }
    }

    /// The mistakes, in the order they were found; empty when there are none.
    pub(super) fn into_errors(self) -> Vec<String> {
        self.errors
    }
}
