//! The CI gate: JUnit XML for CI systems, the test cases of a verification,
//! and the comparison of a report with a baseline (`watchload compare`).
//! `docs/ci.md` shows how a pipeline's CI uses them.

pub mod compare;
pub mod junit;
pub mod verify_cases;
