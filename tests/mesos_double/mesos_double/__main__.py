import sys

if len(sys.argv) > 1 and sys.argv[1] in ("master", "agent"):
    role = sys.argv.pop(1)
else:
    sys.stderr.write("usage: python -m mesos_double master|agent [flags]\n")
    sys.exit(2)
if role == "master":
    from .master import main
else:
    from .agent import main
main()
