package media_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/switch/media"
)

func ExamplePositionAndWait() {
	var words []string
	for _, p := range media.PositionAndWait(21, 4*time.Minute) {
		words = append(words, p.Name)
	}
	fmt.Println(strings.Join(words, " "))
	// Output: you-are-number twenty one in-the-queue your-estimated-wait-is four minutes
}

func ExampleNegotiate() {
	offer, err := media.ParseSDP([]byte("v=0\r\nc=IN IP4 192.0.2.7\r\nm=audio 49170 RTP/AVP 8 0 101\r\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	codec, ok := media.Negotiate(offer, []media.Codec{media.PCMU, media.PCMA})
	fmt.Println(offer.Address, offer.Port, codec, ok)
	answer := media.BuildSDP(1, "198.51.100.1", 20000, []media.Codec{codec}, media.SendRecv)
	fmt.Print(strings.ReplaceAll(string(answer), "\r\n", "\n"))
	// Output:
	// 192.0.2.7 49170 PCMA true
	// v=0
	// o=ccswitch 1 1 IN IP4 198.51.100.1
	// s=ccswitch
	// c=IN IP4 198.51.100.1
	// t=0 0
	// m=audio 20000 RTP/AVP 8
	// a=rtpmap:8 PCMA/8000
	// a=ptime:20
	// a=sendrecv
}

func ExampleEventReceiver() {
	var r media.EventReceiver
	// A "1" as SIPp's pcap/dtmf_2833_1.pcap sends it: updates every
	// 20 ms, then the end three times, all with the RTP timestamp 13280.
	for _, e := range []media.TelephoneEvent{
		{Event: 1, Volume: 10, Duration: 0},
		{Event: 1, Volume: 10, Duration: 320},
		{Event: 1, Volume: 10, Duration: 640},
		{Event: 1, End: true, Volume: 10, Duration: 800},
		{Event: 1, End: true, Volume: 10, Duration: 800},
		{Event: 1, End: true, Volume: 10, Duration: 800},
	} {
		if digit, ok, err := r.Receive(13280, e.Append(nil)); err == nil && ok {
			fmt.Printf("%c at duration %d\n", digit, e.Duration)
		}
	}
	// Output: 1 at duration 0
}
