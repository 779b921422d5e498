//! Ties the compile-time name check of `#[capture_method(name = "…")]` (in `xray-macros`) to
//! the run-time one: the macro crate's rules are included here and compared with
//! [`xray_core::model::is_name_char`] over every `char`.

#[allow(dead_code)]
#[path = "../../xray-macros/src/name_chars.rs"]
mod macro_rules;

#[test]
fn the_macro_decides_no_character_differently_from_the_core() {
    let mut undecided = 0_u32;
    let mut decided_ascii = 0_u32;
    for c in (0..=0x10_FFFF_u32).filter_map(char::from_u32) {
        match macro_rules::name_char(c) {
            Some(allowed) => {
                assert_eq!(
                    allowed,
                    xray_core::model::is_name_char(c),
                    "the macro says {allowed} for {c:?} (U+{:04X})",
                    u32::from(c)
                );
                decided_ascii += u32::from(c.is_ascii());
            }
            None => undecided += 1,
        }
    }
    // Every ASCII character is decided at compile time, so ASCII names skip the run-time check.
    assert_eq!(decided_ascii, 128);
    // Letters, digits and spaces beyond ASCII are left to the run-time table; the rest is
    // refused at compile time.
    assert!(undecided > 100_000 && undecided < 200_000, "{undecided}");
}
