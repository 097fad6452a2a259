use super::*;

fn answer(result: &str, samples_read: Option<u64>) -> Vec<u8> {
    let stats = match samples_read {
        Some(n) => format!(
            r#","stats":{{"timings":{{"evalTotalTime":0.0001}},"samples":{{"totalQueryableSamples":{n},"peakSamples":7}}}}"#
        ),
        None => String::new(),
    };
    format!(r#"{{"status":"success","data":{{"resultType":"matrix","result":{result}{stats}}}}}"#)
        .into_bytes()
}

const TWO_SERIES: &str = r#"[
  {"metric":{"__name__":"demo_gauge","instance":"127.0.0.1:1","job":"demo"},
   "values":[[1796291913,"10"],[1796291914.5,"10"]]},
  {"metric":{"job":"other"},"values":[]}
]"#;

#[test]
fn a_matrix_with_samples_is_firing() {
    assert_eq!(
        decode(200, &answer(TWO_SERIES, Some(12))).unwrap(),
        Condition::Firing
    );
    // Without statistics too: samples are samples.
    assert_eq!(
        decode(200, &answer(TWO_SERIES, None)).unwrap(),
        Condition::Firing
    );
}

#[test]
fn a_native_histogram_sample_is_firing() {
    let result =
        r#"[{"metric":{},"histograms":[[1796291913,{"count":"1","sum":"1","buckets":[]}]]}]"#;
    assert_eq!(
        decode(200, &answer(result, Some(1))).unwrap(),
        Condition::Firing
    );
}

#[test]
fn an_empty_matrix_over_data_is_clear() {
    assert_eq!(
        decode(200, &answer("[]", Some(6))).unwrap(),
        Condition::Clear
    );
    // Series with no values are no samples either.
    let empty_series = r#"[{"metric":{"job":"x"},"values":[]}]"#;
    assert_eq!(
        decode(200, &answer(empty_series, Some(6))).unwrap(),
        Condition::Clear
    );
}

#[test]
fn an_empty_matrix_that_read_no_samples_is_no_data() {
    assert_eq!(
        decode(200, &answer("[]", Some(0))).unwrap(),
        Condition::NoData
    );
}

#[test]
fn an_empty_matrix_without_statistics_is_clear() {
    assert_eq!(decode(200, &answer("[]", None)).unwrap(), Condition::Clear);
}

#[test]
fn an_error_payload_is_a_status_error_with_prometheus_message() {
    let body = br#"{"status":"error","errorType":"bad_data","error":"1:13: parse error: unexpected end of input"}"#;
    let e = decode(400, body).unwrap_err();
    match &e {
        PromError::Status {
            code,
            error_type,
            message,
        } => {
            assert_eq!(*code, 400);
            assert_eq!(error_type, "bad_data");
            assert_eq!(message, "1:13: parse error: unexpected end of input");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("parse error"), "{e}");
    for (code, kind) in [(422, "execution"), (503, "timeout")] {
        let body = format!(r#"{{"status":"error","errorType":"{kind}","error":"boom"}}"#);
        assert!(
            matches!(
                decode(code, body.as_bytes()),
                Err(PromError::Status { code: c, ref error_type, ref message })
                    if c == code && error_type == kind && message == "boom"
            ),
            "{code}"
        );
    }
}

#[test]
fn a_body_that_is_not_prometheus_is_a_status_error_with_its_start() {
    let page = format!("<html>Bad Gateway{}</html>", "x".repeat(500));
    match decode(502, page.as_bytes()).unwrap_err() {
        PromError::Status {
            code: 502,
            error_type,
            message,
        } => {
            assert!(error_type.is_empty());
            assert!(message.starts_with("<html>Bad Gateway"), "{message}");
            assert!(message.len() < 220, "{}", message.len());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_successful_answer_of_the_wrong_shape_is_a_decode_error() {
    for body in [
        r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
        r#"{"status":"success"}"#,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"values":[["x","1"]]}]}}"#,
        "not json",
    ] {
        assert!(
            matches!(decode(200, body.as_bytes()), Err(PromError::Decode(_))),
            "{body}"
        );
    }
}

#[test]
fn condition_maps_to_the_verifications_alert_input() {
    assert_eq!(Condition::Firing.as_alert(), Some(true));
    assert_eq!(Condition::Clear.as_alert(), Some(false));
    assert_eq!(Condition::NoData.as_alert(), None);
}

#[test]
fn the_step_follows_the_window_within_bounds() {
    let s = Duration::from_secs;
    assert_eq!(step_for(Duration::ZERO), s(1));
    assert_eq!(step_for(s(30)), s(1));
    assert_eq!(step_for(s(120)), s(2));
    assert_eq!(step_for(s(600)), s(10));
    assert_eq!(step_for(s(3600)), s(15));
    // A very long window stays under Prometheus' 11,000 points per series.
    let week = s(7 * 24 * 3600);
    assert!(week.as_secs() / step_for(week).as_secs() < 11_000);
}

#[test]
fn timestamps_are_sent_as_unix_seconds_with_milliseconds() {
    let t = jiff::Timestamp::from_millisecond(1_796_291_913_616).unwrap();
    assert_eq!(unix_seconds(t), "1796291913.616");
    let t = jiff::Timestamp::from_millisecond(1_796_291_913_005).unwrap();
    assert_eq!(unix_seconds(t), "1796291913.005");
}

#[test]
fn the_token_is_not_in_debug_output() {
    let url = Url::parse("http://user:pw@prometheus:9090").unwrap();
    let p = Prometheus::new(url, Some(Secret::new("s3cr3t-token")), DEFAULT_TIMEOUT).unwrap();
    let shown = format!("{p:?}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(!shown.contains("pw"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
}

#[test]
fn a_token_that_cannot_be_a_header_is_refused() {
    let url = Url::parse("http://prometheus:9090").unwrap();
    assert!(matches!(
        Prometheus::new(url, Some(Secret::new("a\nb")), DEFAULT_TIMEOUT),
        Err(PromError::InvalidToken)
    ));
}

#[test]
fn the_api_path_is_joined_to_the_base_and_its_prefix() {
    for (base, expected) in [
        ("http://prom:9090", "http://prom:9090/api/v1/query_range"),
        ("http://prom:9090/", "http://prom:9090/api/v1/query_range"),
        (
            "https://example.com/prometheus",
            "https://example.com/prometheus/api/v1/query_range",
        ),
        (
            "https://example.com/prometheus/?x=1",
            "https://example.com/prometheus/api/v1/query_range",
        ),
    ] {
        let p = Prometheus::new(Url::parse(base).unwrap(), None, DEFAULT_TIMEOUT).unwrap();
        assert_eq!(p.query_range.as_str(), expected, "{base}");
    }
}
