//! A checked reader over peer bytes: every access returns `Option`, nothing indexes or panics.

/// A cursor over a byte slice.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// The next byte, not consumed.
    pub(crate) fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Consumes `b` if it is next.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.rest = self.rest.get(1..).unwrap_or_default();
        }
        hit
    }

    /// Consumes `b`, or returns `None` if something else is next.
    pub(crate) fn expect(&mut self, b: u8) -> Option<()> {
        self.eat(b).then_some(())
    }

    /// Consumes exactly `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.rest.split_at_checked(n)?;
        self.rest = tail;
        Some(head)
    }

    /// Consumes bytes up to (not including) the first `b`; `None` if there is no `b`.
    pub(crate) fn take_until(&mut self, b: u8) -> Option<&'a [u8]> {
        let at = self.rest.iter().position(|&x| x == b)?;
        self.take(at)
    }

    /// Consumes the longest prefix whose bytes satisfy `pred`.
    pub(crate) fn take_while(&mut self, pred: impl Fn(&u8) -> bool) -> &'a [u8] {
        let n = self
            .rest
            .iter()
            .position(|b| !pred(b))
            .unwrap_or(self.rest.len());
        self.take(n).unwrap_or_default()
    }

    /// Everything left.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Whether nothing is left.
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}
