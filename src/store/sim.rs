//! A simulated NOR flash for the tests and the fuzz target (feature `std` only): it programs
//! only erased bits, each word once, erases whole sectors and counts erases per sector, and
//! can cut the power after the Nth programmed word (or erase), leaving that word partially
//! programmed (or that sector half erased).

// Test equipment, never in a firmware build (feature `std`): a bounds slip may panic here.
#![allow(clippy::indexing_slicing)]

use std::vec;
use std::vec::Vec;

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimError {
    /// The power is off.
    PowerCut,
    /// Out of range or misaligned.
    Bounds,
    /// A program call would set a bit back to 1, or program a word twice: NOR forbids it.
    NotErased,
}

impl NorFlashError for SimError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            SimError::Bounds => NorFlashErrorKind::OutOfBounds,
            _ => NorFlashErrorKind::Other,
        }
    }
}

/// `W`: write granularity in bytes; `S`: sector size.
pub struct SimFlash<const W: usize, const S: usize> {
    pub bytes: Vec<u8>,
    /// One flag per word: programmed since the last erase.
    programmed: Vec<bool>,
    pub erases: Vec<u32>,
    /// Words programmed (and erases done) so far; the cut happens at `cut_at`.
    pub ops: u64,
    pub cut_at: Option<u64>,
    pub dead: bool,
    /// The cut left the word it hit equal to what was asked (all its 0 bits landed).
    pub torn_complete: bool,
    pub words_programmed: u64,
}

impl<const W: usize, const S: usize> SimFlash<W, S> {
    pub fn new(sectors: usize) -> Self {
        SimFlash {
            bytes: vec![0xFF; sectors * S],
            programmed: vec![false; sectors * S / W],
            erases: vec![0; sectors],
            ops: 0,
            cut_at: None,
            dead: false,
            torn_complete: false,
            words_programmed: 0,
        }
    }

    /// Power back on, with no cut planned.
    pub fn reboot(&mut self) {
        self.dead = false;
        self.cut_at = None;
        self.torn_complete = false;
    }

    /// Counts one operation; true when the power goes now.
    fn tick(&mut self) -> bool {
        self.ops += 1;
        if self.cut_at == Some(self.ops) {
            self.dead = true;
            return true;
        }
        false
    }
}

impl<const W: usize, const S: usize> ErrorType for SimFlash<W, S> {
    type Error = SimError;
}

impl<const W: usize, const S: usize> ReadNorFlash for SimFlash<W, S> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), SimError> {
        if self.dead {
            return Err(SimError::PowerCut);
        }
        let start = offset as usize;
        let src = self
            .bytes
            .get(start..start + bytes.len())
            .ok_or(SimError::Bounds)?;
        bytes.copy_from_slice(src);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.bytes.len()
    }
}

impl<const W: usize, const S: usize> NorFlash for SimFlash<W, S> {
    const WRITE_SIZE: usize = W;
    const ERASE_SIZE: usize = S;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), SimError> {
        if self.dead {
            return Err(SimError::PowerCut);
        }
        let (from, to) = (from as usize, to as usize);
        if !from.is_multiple_of(S) || !to.is_multiple_of(S) || to > self.bytes.len() || from > to {
            return Err(SimError::Bounds);
        }
        for sector in (from..to).step_by(S) {
            if self.tick() {
                // Half erased: the first half is 0xFF, the rest as it was.
                self.bytes[sector..sector + S / 2].fill(0xFF);
                return Err(SimError::PowerCut);
            }
            self.bytes[sector..sector + S].fill(0xFF);
            self.programmed[sector / W..(sector + S) / W].fill(false);
            self.erases[sector / S] += 1;
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), SimError> {
        if self.dead {
            return Err(SimError::PowerCut);
        }
        let start = offset as usize;
        if !start.is_multiple_of(W)
            || !data.len().is_multiple_of(W)
            || start + data.len() > self.bytes.len()
        {
            return Err(SimError::Bounds);
        }
        for (i, word) in data.chunks(W).enumerate() {
            let at = start + i * W;
            if self.programmed[at / W] {
                return Err(SimError::NotErased);
            }
            let old = &self.bytes[at..at + W];
            if old.iter().zip(word).any(|(o, n)| o & n != *n) {
                return Err(SimError::NotErased);
            }
            if self.tick() {
                // Partially programmed: only the zero bits of the word's first half landed.
                let half = W.div_ceil(2);
                let mut complete = true;
                for (j, n) in word.iter().enumerate() {
                    let target = self.bytes[at + j] & n;
                    if j < half || W == 1 {
                        // One byte: only its high nibble's zeros.
                        let mask = if W == 1 { 0x0F } else { 0x00 };
                        self.bytes[at + j] &= n | mask;
                    }
                    complete &= self.bytes[at + j] == target;
                }
                self.torn_complete = complete;
                self.programmed[at / W] = true;
                return Err(SimError::PowerCut);
            }
            for (j, n) in word.iter().enumerate() {
                self.bytes[at + j] &= n;
            }
            self.programmed[at / W] = true;
            self.words_programmed += 1;
        }
        Ok(())
    }
}
