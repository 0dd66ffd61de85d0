netspec build lenet5.yaml --seed abc
