"""Runs one lab case: skip or re-exec into namespaces, run, report.

A case file calls main(CASES, argv) with a dict of name -> function; each
function takes a fresh Lab.  Exit status follows meson's conventions:
0 passed, 1 failed (including a lab that cannot start), 77 skipped (only
when not root or without unshare).
"""

import signal
import sys
import time
import traceback

import lab
import labnet

EXIT_PASS = 0
EXIT_FAIL = 1


def registry():
    """A case file's table and its decorator: `CASES, case = registry()`,
    then `@case("name")` over each case function (its meson name, without
    the file's prefix); a name used twice is a bug in that file."""
    cases = {}

    def case(name):
        """Registers a case function under its meson name."""
        def register(func):
            """Adds func to the table."""
            if name in cases:
                raise RuntimeError("case %s defined twice" % name)
            cases[name] = func
            return func
        return register
    return cases, case


def usage(cases):
    """Lists the known cases; an unknown case name is a hard failure."""
    return ("usage: %s CASE | --list | --check-list NAME...\ncases: %s"
            % (sys.argv[0], " ".join(sorted(cases))))


def check_list(cases, names):
    """Fails unless `names` (meson's list) is exactly the case functions."""
    missing = sorted(set(cases) - set(names))
    unknown = sorted(set(names) - set(cases))
    if missing:
        print("cases not registered in meson.build: " + " ".join(missing))
    if unknown:
        print("meson.build names unknown cases: " + " ".join(unknown))
    if len(names) != len(set(names)):
        print("meson.build lists a case twice")
        return EXIT_FAIL
    return EXIT_FAIL if missing or unknown else EXIT_PASS


def on_sigterm(signum, frame):
    """Turns SIGTERM (a meson timeout) into an exception, so the case's
    finally blocks stop its servers."""
    raise SystemExit("lab: terminated by signal %d" % signum)


def run_inside(name, func):
    """In the namespace: set up the network, run the case, report."""
    signal.signal(signal.SIGTERM, on_sigterm)
    labnet.bring_up_loopback()
    started = time.monotonic()
    the_lab = lab.Lab(name)
    status = EXIT_FAIL
    try:
        func(the_lab)
        status = EXIT_PASS
        print("PASS: %s (%.1f s)" % (name, time.monotonic() - started))
    except lab.CaseFailure as e:
        print("FAIL: %s: %s" % (name, e))
        print(the_lab.diagnostics())
    except lab.LabError as e:
        print("FAIL: %s: %s" % (name, e))
        print(the_lab.diagnostics())
    except Exception:
        print("FAIL: %s: the case itself raised:" % name)
        traceback.print_exc(file=sys.stdout)
        print(the_lab.diagnostics())
    except (SystemExit, KeyboardInterrupt) as e:
        print("FAIL: %s: interrupted (%s)" % (name, e or type(e).__name__))
        print(the_lab.diagnostics())
    finally:
        the_lab.close()
        sys.stdout.flush()
    return status


def main(cases, argv):
    """Entry point of a case file: `CASE`, `--list`, `--check-list ...`."""
    if len(argv) >= 1 and argv[0] == "--list":
        print("\n".join(sorted(cases)))
        return EXIT_PASS
    if len(argv) >= 1 and argv[0] == "--check-list":
        return check_list(cases, argv[1:])
    if len(argv) != 1 or argv[0] not in cases:
        print("lab: unknown case %r\n%s" % (" ".join(argv), usage(cases)))
        return EXIT_FAIL
    name = argv[0]
    if not labnet.can_make_namespaces():
        print(labnet.SKIP_MESSAGE)
        return labnet.EXIT_SKIP
    if not labnet.inside_namespace():
        labnet.reexec_in_namespace([sys.argv[0], name])
    return run_inside(name, cases[name])

