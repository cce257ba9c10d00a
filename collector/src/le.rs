//! Little-endian integers read out of a file's bytes at an offset, `None` past the end: the one
//! copy the binary scanners (`boring`, `ossl`, `gotls`) share.

pub(crate) fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

pub(crate) fn read_i32(b: &[u8], at: usize) -> Option<i32> {
    read_u32(b, at).map(|v| v as i32)
}

pub(crate) fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_range_and_none_past_the_end() {
        let b = [1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(read_u32(&b, 0), Some(1));
        assert_eq!(read_i32(&b, 4), Some(-1));
        assert_eq!(read_u64(&b, 0), Some(0xffff_ffff_0000_0001));
        assert_eq!(read_u32(&b, 5), None);
        assert_eq!(read_u64(&b, usize::MAX), None);
    }
}
