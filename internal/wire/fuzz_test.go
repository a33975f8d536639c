package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// wireInputs are valid and invalid envelopes for the fuzz targets.
func wireInputs(f *testing.F) {
	f.Helper()
	req, err := NewRequest("run-1/fault", CmdFault, FaultReq{Run: "run-1", Kind: "drop", Scope: "flow", TTLMS: 30000})
	if err != nil {
		f.Fatal(err)
	}
	resp, err := NewResponse("run-1/collect-3", CollectResp{Done: true, AcceptNS: 1, ErrnoName: "ETIMEDOUT", ProbesMS: []int64{1000, 2000}}, nil)
	if err != nil {
		f.Fatal(err)
	}
	errResp, err := NewResponse("x", nil, errors.New("refused: "+strings.Repeat("e", 300)))
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range [][]byte{
		req, resp, errResp,
		[]byte(`{"v":1,"id":"a","cmd":"kalab-status"}`),
		[]byte(`{"v":1,"id":"a","cmd":"kalab-status","body":{},"auth":{"node":"n","issued_ns":1,"nonce":"AAAA","sig":"AAAA"}}`),
		[]byte(`{"v":1,"id":"a","cmd":"kalab-status","shell":"rm -rf /"}`),
		[]byte(`{"v":2,"id":"a","cmd":"kalab-status"}`),
		[]byte(`{"v":1,"id":"a","cmd":"kalab-status"} {}`),
		[]byte(`{"v":1,"id":"a","ok":false,"err":"no"}`),
		[]byte(`{"V":1,"ID":"a","CMD":"x","body":null}`),
		[]byte(`null`),
		[]byte(`{"v":1e400}`),
		[]byte("{\"v\":1,\"id\":\"\xff\",\"cmd\":\"<&>\"}"),
		[]byte(""),
	} {
		f.Add(b)
	}
}

// bodyValue decodes a raw body for comparison across re-encoding (which
// compacts it and escapes <, > and & in strings); "" when there is none.
func bodyValue(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	if len(raw) == 0 {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("accepted body is not JSON: %q: %v", raw, err)
	}
	return v
}

// FuzzParseRequest: never panics; accepts only what fits the size limit,
// speaks Version and has an id and a command; what it accepts re-encodes
// to the same request.
func FuzzParseRequest(f *testing.F) {
	wireInputs(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			return
		}
		if len(b) > SerfSizeLimit || r.V != Version || r.ID == "" || r.Cmd == "" {
			t.Fatalf("accepted %q as %+v", b, r)
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", r, err)
		}
		var back Request
		if err := decodeStrict(out, &back); err != nil {
			t.Fatalf("re-encoded request %q refused: %v", out, err)
		}
		if !reflect.DeepEqual(bodyValue(t, back.Body), bodyValue(t, r.Body)) {
			t.Fatalf("body changed: %q → %q", r.Body, back.Body)
		}
		r.Body, back.Body = nil, nil
		if !reflect.DeepEqual(r, back) {
			t.Fatalf("round trip changed the request: %+v → %+v", r, back)
		}
	})
}

// FuzzParseResponse: as FuzzParseRequest for answers.
func FuzzParseResponse(f *testing.F) {
	wireInputs(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseResponse(b)
		if err != nil {
			return
		}
		if len(b) > SerfSizeLimit || r.V != Version {
			t.Fatalf("accepted %q as %+v", b, r)
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", r, err)
		}
		var back Response
		if err := decodeStrict(out, &back); err != nil {
			t.Fatalf("re-encoded response %q refused: %v", out, err)
		}
		if !reflect.DeepEqual(bodyValue(t, back.Body), bodyValue(t, r.Body)) {
			t.Fatalf("body changed: %q → %q", r.Body, back.Body)
		}
		r.Body, back.Body = nil, nil
		if !reflect.DeepEqual(r, back) {
			t.Fatalf("round trip changed the response: %+v → %+v", r, back)
		}
	})
}

// FuzzDecodeBody: every message type decodes a body strictly without
// panicking, and what one accepts re-encodes and decodes to the same
// value.
func FuzzDecodeBody(f *testing.F) {
	for _, body := range []any{
		StatusReq{}, StatusResp{Name: "a", NowNS: 1, OS: "linux", Caps: "drop,kill", Active: 1, BootID: "b"},
		PrepareServerReq{Run: "r", Keepalive: Keepalive{IdleMS: 1000, IntervalMS: 1000, Count: 3}, Mode: "listener", ClientAddr: "192.0.2.1", TTLMS: 60000},
		PrepareClientReq{Run: "r", ServerAddr: "192.0.2.1:1", TTLMS: 60000}, FaultReq{Run: "r", Kind: "drop", Scope: "host", TTLMS: 1},
		CollectResp{Done: true, Options: Options{Count: new(int)}, ProbesMS: []int64{1}}, CleanupReq{Run: "r"},
		EchoReq{Run: "r"}, EchoResp{OK: true, RTTNS: 1}, EchoResp{Err: "echo: 0 of 10 bytes back within 5s"},
	} {
		b, err := json.Marshal(body)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{"", "{}", "null", `{"run":"r","cmd":"sh"}`, `{"ttl_ms":1e3}`, `{"probes_ms":[1,2,3]} x`, `[]`, `{"run":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, newMsg := range []func() any{
			func() any { return new(StatusReq) }, func() any { return new(StatusResp) },
			func() any { return new(PrepareServerReq) }, func() any { return new(PrepareServerResp) },
			func() any { return new(PrepareClientReq) }, func() any { return new(PrepareClientResp) },
			func() any { return new(FaultReq) }, func() any { return new(FaultResp) },
			func() any { return new(HealReq) }, func() any { return new(HealResp) },
			func() any { return new(CollectReq) }, func() any { return new(CollectResp) },
			func() any { return new(CleanupReq) }, func() any { return new(Empty) },
			func() any { return new(EchoReq) }, func() any { return new(EchoResp) },
		} {
			v := newMsg()
			if err := DecodeBody(b, v); err != nil {
				continue
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("re-encode %T %+v: %v", v, v, err)
			}
			w := newMsg()
			if err := DecodeBody(out, w); err != nil {
				t.Fatalf("%T: re-encoded body %q refused: %v", v, out, err)
			}
			if !reflect.DeepEqual(v, w) {
				t.Fatalf("%T: round trip changed %q: %+v → %+v", v, b, v, w)
			}
		}
	})
}
