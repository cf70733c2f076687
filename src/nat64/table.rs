//! placeholder: helper tables
