#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gearman_proto::fuzzing::message(data));
