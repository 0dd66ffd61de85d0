netspec draw lenet5.yaml -o lenet5.dot
