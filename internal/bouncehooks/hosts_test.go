package bouncehooks

import "testing"

// TestOnlySNSHostsAreTrusted: with the production configuration (no test
// hosts) a certificate or subscription URL must be https on
// sns.<region>.amazonaws.com (or .com.cn), on the default port.
func TestOnlySNSHostsAreTrusted(t *testing.T) {
	prod := SESConfig{TopicARNs: []string{"arn:aws:sns:eu-west-2:123456789012:t"}}
	for raw, ok := range map[string]bool{
		"https://sns.eu-west-2.amazonaws.com/SimpleNotificationService-abc.pem":   true,
		"https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-a.pem": true,
		"https://sns.us-gov-west-1.amazonaws.com/?Action=ConfirmSubscription&T=1": true,
		"http://sns.eu-west-2.amazonaws.com/cert.pem":                             false,
		"https://sns.eu-west-2.amazonaws.com.evil.example/cert.pem":               false,
		"https://evilsns.eu-west-2.amazonaws.com/cert.pem":                        false,
		"https://sns.eu-west-2.amazonaws.com:8443/cert.pem":                       false,
		"https://user@sns.eu-west-2.amazonaws.com/cert.pem":                       false,
		"https://s3.amazonaws.com/sns/cert.pem":                                   false,
		"https://127.0.0.1:44321/cert.pem":                                        false,
		"sns.eu-west-2.amazonaws.com/cert.pem":                                    false,
	} {
		_, err := prod.snsURL("SigningCertURL", raw)
		if (err == nil) != ok {
			t.Errorf("%s: trusted %v, want %v", raw, err == nil, ok)
		}
	}
	test := prod
	test.TestHosts = []string{"127.0.0.1:44321"}
	if _, err := test.snsURL("SigningCertURL", "https://127.0.0.1:44321/cert.pem"); err != nil {
		t.Errorf("a test host: %v", err)
	}
	if _, err := test.snsURL("SigningCertURL", "https://127.0.0.1:44322/cert.pem"); err == nil {
		t.Error("another port of the test host was trusted")
	}
}
