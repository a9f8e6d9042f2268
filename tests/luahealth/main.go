// Command luahealth runs the Argo CD health checks under a resource_customizations folder the way
// Argo CD does, with the Lua interpreter Argo CD embeds (github.com/yuin/gopher-lua, the version
// Argo CD's go.mod pins), and checks each against its health_test.yaml (Argo CD's own test layout:
// <group>/<Kind>/health.lua, health_test.yaml, testdata/*.yaml).
//
// As Argo CD runs a resource.customizations health script without useOpenLibs: a Lua state with
// no standard library except package, base and table; the object as the global `obj`, converted
// from its JSON form (objects to hash tables, arrays to sequences, numbers to Lua numbers); the
// script's returned table read as {status, message}.
//
// Usage: luahealth <resource_customizations dir>. Prints one JSON line per test and exits 1 when
// any check returns another health than its test says.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

type healthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

type healthTests struct {
	Tests []struct {
		InputPath    string       `json:"inputPath"`
		HealthStatus healthStatus `json:"healthStatus"`
	} `json:"tests"`
}

type outcome struct {
	Check string        `json:"check"`
	Input string        `json:"input"`
	Want  healthStatus  `json:"want"`
	Got   *healthStatus `json:"got,omitempty"`
	Error string        `json:"error,omitempty"`
}

// toLua converts a value of a JSON-decoded object into a Lua value.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		seq := l.CreateTable(len(v), 0)
		for _, item := range v {
			seq.Append(toLua(l, item))
		}
		return seq
	case map[string]any:
		table := l.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetH(lua.LString(key), toLua(l, item))
		}
		return table
	}
	return lua.LNil
}

func newState() (*lua.LState, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

func run(script string, input string) (*healthStatus, error) {
	data, err := os.ReadFile(input)
	if err != nil {
		return nil, err
	}
	obj := map[string]any{}
	if err := yaml.Unmarshal(data, &obj); err != nil {
		return nil, err
	}
	l, err := newState()
	if err != nil {
		return nil, err
	}
	defer l.Close()
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return nil, err
	}
	table, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("the script returned %s, not a table", l.Get(-1).Type())
	}
	got := &healthStatus{}
	if s, ok := table.RawGetString("status").(lua.LString); ok {
		got.Status = string(s)
	}
	if m, ok := table.RawGetString("message").(lua.LString); ok {
		got.Message = string(m)
	}
	return got, nil
}

func check(dir string, enc *json.Encoder) (failed int, err error) {
	script, err := os.ReadFile(filepath.Join(dir, "health.lua"))
	if err != nil {
		return 0, err
	}
	data, err := os.ReadFile(filepath.Join(dir, "health_test.yaml"))
	if err != nil {
		return 0, err
	}
	var tests healthTests
	if err := yaml.Unmarshal(data, &tests); err != nil {
		return 0, err
	}
	if len(tests.Tests) == 0 {
		return 0, fmt.Errorf("%s: health_test.yaml has no tests", dir)
	}
	for _, test := range tests.Tests {
		out := outcome{Check: dir, Input: test.InputPath, Want: test.HealthStatus}
		got, runErr := run(string(script), filepath.Join(dir, test.InputPath))
		out.Got = got
		if runErr != nil {
			out.Error = runErr.Error()
		}
		if runErr != nil || *got != test.HealthStatus {
			failed++
		}
		if err := enc.Encode(out); err != nil {
			return failed, err
		}
	}
	return failed, nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: luahealth <resource_customizations dir>")
		os.Exit(2)
	}
	enc := json.NewEncoder(os.Stdout)
	failed, checks := 0, 0
	err := filepath.Walk(os.Args[1], func(path string, info os.FileInfo, err error) error {
		if err != nil || info.Name() != "health.lua" {
			return err
		}
		checks++
		n, err := check(filepath.Dir(path), enc)
		failed += n
		return err
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if checks == 0 || failed > 0 {
		fmt.Fprintf(os.Stderr, "%d health checks, %d failed tests\n", checks, failed)
		os.Exit(1)
	}
}
