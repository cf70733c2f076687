//! placeholder: helper pool4
