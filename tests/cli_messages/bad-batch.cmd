netspec summary lenet5.yaml --batch 0
