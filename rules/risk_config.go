package rules

import (
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// risk reads the risk section of a config file:
//
//	risk:
//	  trail_keys: 20    # K: keys whose CloudTrail usage is profiled
//	  trail_pages: 2    # N: newest pages (50 events) read per key
//	  weights:
//	    blast-administrator: 40
//	    new-public-ips: 15
//
// Every error names the file and line.
func (p parser) risk(v *yaml.Node) (RiskConfig, error) {
	rc := DefaultRisk()
	err := p.mapping(v, "risk", func(key string, v *yaml.Node) error {
		number := func(lowest, highest int) (int, error) {
			n, err := strconv.Atoi(v.Value)
			if v.Kind != yaml.ScalarNode || err != nil || n < lowest || n > highest {
				return 0, p.errorf(v, "risk.%s must be a whole number from %d to %d, got %s", key, lowest, highest, describe(v))
			}
			return n, nil
		}
		var err error
		switch key {
		case "trail_keys":
			rc.TrailKeys, err = number(0, 1000)
		case "trail_pages":
			rc.TrailPages, err = number(1, 20)
		case "weights":
			return p.mapping(v, "risk.weights", func(id string, v *yaml.Node) error {
				if _, ok := rc.Weights[id]; !ok {
					return p.errorf(v, "unknown risk factor %q: use one of %s", id, strings.Join(factorIDs(), ", "))
				}
				n, err := strconv.Atoi(v.Value)
				if v.Kind != yaml.ScalarNode || err != nil || n < 0 || n > 100 {
					return p.errorf(v, "risk.weights.%s must be a whole number from 0 to 100, got %s", id, describe(v))
				}
				rc.Weights[id] = n
				return nil
			})
		default:
			return p.errorf(v, "unknown risk setting %q: use trail_keys, trail_pages or weights", key)
		}
		return err
	})
	if err != nil {
		return RiskConfig{}, err
	}
	return rc, nil
}

func factorIDs() []string {
	var ids []string
	for _, f := range Factors() {
		ids = append(ids, f.ID)
	}
	sort.Strings(ids)
	return ids
}
