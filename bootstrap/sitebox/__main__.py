from sitebox.cli import main

main()
