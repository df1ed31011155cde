//! `vagt decode`: bytes in on stdin, one JSON object per frame out, exact response text.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use vagt_testkit::vectors;

fn vagt_decode(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vagt"))
        .arg("decode")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn frame(name: &str) -> Vec<u8> {
    vectors()
        .into_iter()
        .find(|v| v.name == name)
        .unwrap()
        .frame()
}

const NOW: [&str; 2] = ["--now", "2024-05-01T12:00:00Z"];

#[test]
fn several_frames_and_garbage_in_one_stream() {
    let mut input = frame("two_frames_one_read");
    input.extend_from_slice(&frame("bad_crc"));
    input.extend_from_slice(b"GET / HTTP/1.1");
    input.extend_from_slice(&frame("admcid_personal_emergency_101"));
    let out = lines(&vagt_decode(&NOW, &input));
    assert_eq!(out.len(), 5);
    assert_eq!(out[0]["sequence"], "0005");
    assert_eq!(out[0]["response"], "\nCE800012\"ACK\"0005L0#1234[]\r");
    assert_eq!(out[1]["sequence"], "0006");
    assert_eq!(out[1]["events"][0]["code"], "BR");
    assert_eq!(out[2]["ok"], false);
    assert_eq!(out[2]["error_kind"], "bad_crc");
    assert_eq!(out[2]["response"], Value::Null);
    assert_eq!(out[3]["error_kind"], "garbage");
    let cid = &out[4];
    assert_eq!(cid["type"], "ADM-CID");
    assert_eq!(cid["events"][0]["qualifier"], "1");
    assert_eq!(cid["events"][0]["event_code"], "101");
    assert_eq!(cid["events"][0]["zone"], "002");
    assert_eq!(cid["events"][0]["name"], "Personal Emergency");
}

#[test]
fn encrypted_frame_with_key() {
    let out = lines(&vagt_decode(
        &["--key", "0123456789ABCDEF", NOW[0], NOW[1]],
        &frame("enc128_siadcs_BA"),
    ));
    assert_eq!(out[0]["type"], "*SIA-DCS");
    assert_eq!(out[0]["encrypted"], true);
    assert_eq!(out[0]["timestamp"], "2024-05-01T12:00:00Z");
    assert_eq!(out[0]["events"][0]["zone"], "5");
    assert_eq!(out[0]["response_class"], "*ACK");
    assert!(
        out[0]["response"]
            .as_str()
            .unwrap()
            .contains("\"*ACK\"0001L0#1234[")
    );
    // Without the key the same frame is refused with a NAK carrying our time.
    let out = lines(&vagt_decode(&NOW, &frame("enc128_siadcs_BA")));
    assert_eq!(out[0]["error_kind"], "no_key");
    assert_eq!(
        out[0]["response"],
        "\n22CB0025\"NAK\"0000R0L0A0[]_12:00:00,05-01-2024\r"
    );
}

#[test]
fn frame_split_across_reads_at_end_is_reported_incomplete() {
    let out = lines(&vagt_decode(&NOW, &frame("truncated_frame")));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["error_kind"], "incomplete");
}

#[test]
fn bad_arguments_get_a_clear_error() {
    let out = vagt_decode(&["--key", "short"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--key: key must be 16, 24 or 32 bytes"));
    let out = vagt_decode(&["--now", "yesterday"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an RFC 3339 time"));
    let out = vagt_decode(&["--key", "0123456789ABCDEF0123456789ABCDEF"], b"");
    assert!(String::from_utf8_lossy(&out.stderr).contains("ambiguous key"));
}
