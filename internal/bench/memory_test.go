package bench

import (
	"runtime/metrics"
	"time"
)

const mib = 1 << 20

// memoryPeak samples this process's heap and resident set while a pass
// runs, and keeps their peaks.
type memoryPeak struct {
	stop chan struct{}
	done chan struct{}
	// hwm: the kernel's peak-RSS mark was reset at the start, so that it
	// can be read at the end.
	hwm  bool
	heap uint64
	rss  uint64
}

// heapMetric is the memory held by heap objects, live or not yet swept:
// the heap a memory limit has to fit.
const heapMetric = "/memory/classes/heap/objects:bytes"

// watchMemory starts sampling every interval until Stop.
func watchMemory(every time.Duration) *memoryPeak {
	m := &memoryPeak{stop: make(chan struct{}), done: make(chan struct{}), hwm: resetPeakRSS()}
	m.sample()
	go func() {
		defer close(m.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				m.sample()
			case <-m.stop:
				m.sample()
				return
			}
		}
	}()
	return m
}

func (m *memoryPeak) sample() {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		m.heap = max(m.heap, s[0].Value.Uint64())
	}
	m.rss = max(m.rss, currentRSS())
}

// Stop ends sampling and returns the peak heap and peak RSS in bytes.
func (m *memoryPeak) Stop() (heap, rss uint64) {
	close(m.stop)
	<-m.done
	if m.hwm {
		m.rss = max(m.rss, peakRSS())
	}
	return m.heap, m.rss
}
