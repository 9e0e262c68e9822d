//! Records inside messages: [`WireRecord`] (a fixed-size record sent as a FlatBuffers
//! struct of the same bytes) and [`Records`], borrowed from a verified frame or from records to
//! encode.

use crate::record::{CandleRecord, TickRecord};

/// A fixed-size record that travels as a FlatBuffers struct of the same bytes.
pub trait WireRecord: Copy {
    /// Encoded size, in bytes.
    const SIZE_BYTES: usize;
    /// Decodes from exactly `SIZE_BYTES` little-endian bytes.
    ///
    /// # Panics
    ///
    /// If `bytes.len() != SIZE_BYTES` (callers slice with `chunks_exact`).
    fn read_le(bytes: &[u8]) -> Self;
}

impl WireRecord for TickRecord {
    const SIZE_BYTES: usize = Self::SIZE_BYTES;
    fn read_le(bytes: &[u8]) -> Self {
        let mut b = [0; Self::SIZE_BYTES];
        b.copy_from_slice(bytes);
        Self::from_le_bytes(&b)
    }
}

impl WireRecord for CandleRecord {
    const SIZE_BYTES: usize = Self::SIZE_BYTES;
    fn read_le(bytes: &[u8]) -> Self {
        let mut b = [0; Self::SIZE_BYTES];
        b.copy_from_slice(bytes);
        Self::from_le_bytes(&b)
    }
}

/// A sequence of records: either borrowed from a verified frame, or from records to encode.
#[derive(Clone, Copy, Debug)]
pub enum Records<'a, R> {
    /// Little-endian bytes inside a verified frame, `SIZE_BYTES` per record.
    Wire(&'a [u8]),
    /// Records in memory.
    Slice(&'a [R]),
}

/// Tick records of a message.
pub type Ticks<'a> = Records<'a, TickRecord>;
/// Candle records of a message.
pub type Candles<'a> = Records<'a, CandleRecord>;

impl<R> Default for Records<'_, R> {
    fn default() -> Self {
        Self::Slice(&[])
    }
}

impl<'a, R: WireRecord> Records<'a, R> {
    /// Number of records.
    pub fn len(&self) -> usize {
        match self {
            Self::Wire(bytes) => bytes.len() / R::SIZE_BYTES,
            Self::Slice(s) => s.len(),
        }
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record `i`, if `i < len()`.
    pub fn get(&self, i: usize) -> Option<R> {
        match self {
            Self::Wire(bytes) => bytes
                .get(i * R::SIZE_BYTES..(i + 1) * R::SIZE_BYTES)
                .map(R::read_le),
            Self::Slice(s) => s.get(i).copied(),
        }
    }

    /// The records in order, decoded on the fly (no allocation).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = R> + DoubleEndedIterator + 'a {
        let (wire, slice): (&'a [u8], &'a [R]) = match *self {
            Self::Wire(bytes) => (bytes, &[]),
            Self::Slice(s) => (&[], s),
        };
        wire.chunks_exact(R::SIZE_BYTES)
            .map(R::read_le)
            .chain_exact(slice.iter().copied())
    }

    /// The records collected into a `Vec` (allocates).
    pub fn to_vec(&self) -> Vec<R> {
        self.iter().collect()
    }
}

/// `Iterator::chain` loses `ExactSizeIterator`; this keeps it (one side is always empty here).
trait ChainExact: Iterator + Sized {
    fn chain_exact<B: Iterator<Item = Self::Item>>(self, other: B) -> ExactChain<Self, B> {
        ExactChain { a: self, b: other }
    }
}
impl<I: Iterator> ChainExact for I {}

struct ExactChain<A, B> {
    a: A,
    b: B,
}

impl<A: Iterator, B: Iterator<Item = A::Item>> Iterator for ExactChain<A, B> {
    type Item = A::Item;
    fn next(&mut self) -> Option<A::Item> {
        self.a.next().or_else(|| self.b.next())
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let (a, b) = (self.a.size_hint().0, self.b.size_hint().0);
        (a + b, Some(a + b))
    }
}
impl<A: ExactSizeIterator, B: ExactSizeIterator<Item = A::Item>> ExactSizeIterator
    for ExactChain<A, B>
{
}
impl<A, B> DoubleEndedIterator for ExactChain<A, B>
where
    A: DoubleEndedIterator,
    B: DoubleEndedIterator<Item = A::Item>,
{
    fn next_back(&mut self) -> Option<A::Item> {
        self.b.next_back().or_else(|| self.a.next_back())
    }
}

impl<R: WireRecord + PartialEq> PartialEq for Records<'_, R> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}
