netspec convert lenet5.yaml --to ns -o lenet5.ns
