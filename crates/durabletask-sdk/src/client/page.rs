//! One page of a paged query, with the token that fetches the next one.

/// One page of query results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The results on this page.
    pub items: Vec<T>,
    /// Pass this to the next call to get the next page; `None` on the last page.
    pub continuation_token: Option<String>,
}

impl<T> Page<T> {
    /// True when there are no more pages after this one.
    pub fn is_last(&self) -> bool {
        self.continuation_token.is_none()
    }
}

/// The token to send for the next page: engines signal the end with an absent or an empty token.
pub(crate) fn next_token(token: Option<String>) -> Option<String> {
    token.filter(|token| !token.is_empty())
}
