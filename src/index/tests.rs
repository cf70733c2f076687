use super::*;

#[test]
fn opt_index_is_a_u32_with_none() {
    assert_eq!(size_of::<OptIndex>(), 4);
    assert_eq!(OptIndex::NONE.get(), None);
    assert!(OptIndex::NONE.is_none() && !OptIndex::NONE.is_some());
    assert_eq!(OptIndex::some(0).get(), Some(0));
    assert_eq!(OptIndex::some(u32::MAX - 1).get(), Some(u32::MAX - 1));
    assert_eq!(OptIndex::from(Some(7)), OptIndex::some(7));
    assert_eq!(OptIndex::from(None), OptIndex::NONE);
    assert_eq!(
        format!("{:?} {:?}", OptIndex::some(3), OptIndex::NONE),
        "3 none"
    );
}

#[test]
fn mix64_is_splitmix64() {
    // splitmix64's first outputs from seed 0 (the generator adds the
    // golden-ratio increment before mixing, as mix64 does).
    assert_eq!(mix64(0), 0xe220_a839_7b1d_cdaf);
    assert_ne!(mix64(1), mix64(0));
}
